package dev.quiver.gpu.cli;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Minimal parsing of {@code --name value} options and positionals; unknown options are an error. */
final class Args {
    private final List<String> positionals = new ArrayList<>();
    private final List<String[]> options = new ArrayList<>();
    private final Set<String> consumed = new HashSet<>();

    Args(List<String> args) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.startsWith("--")) {
                if (i + 1 >= args.size()) {
                    throw new CliException("option " + a + " needs a value");
                }
                options.add(new String[] {a, args.get(++i)});
            } else {
                positionals.add(a);
            }
        }
    }

    String positional(int i, String name) {
        if (i >= positionals.size()) {
            throw new CliException("missing argument " + name);
        }
        return positionals.get(i);
    }

    String option(String name, String dflt) {
        consumed.add(name);
        String v = dflt;
        for (String[] o : options) {
            if (o[0].equals(name)) {
                v = o[1];
            }
        }
        return v;
    }

    String required(String name) {
        String v = option(name, null);
        if (v == null) {
            throw new CliException("missing option " + name);
        }
        return v;
    }

    List<String> all(String name) {
        consumed.add(name);
        List<String> out = new ArrayList<>();
        for (String[] o : options) {
            if (o[0].equals(name)) {
                out.add(o[1]);
            }
        }
        return out;
    }

    void rejectUnknown() {
        for (String[] o : options) {
            if (!consumed.contains(o[0])) {
                throw new CliException("unknown option " + o[0]);
            }
        }
    }
}
