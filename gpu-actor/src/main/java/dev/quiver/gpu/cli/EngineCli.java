package dev.quiver.gpu.cli;

import java.util.Arrays;
import java.util.List;

/** The engine's subcommands of {@code bin/quiver}: {@code model make} and {@code generate}. */
public final class EngineCli {
    private EngineCli() {
    }

    public static void main(String[] argv) {
        System.exit(run(Arrays.asList(argv)));
    }

    static int run(List<String> args) {
        try {
            if (args.size() >= 2 && args.get(0).equals("model") && args.get(1).equals("make")) {
                return ModelMakeCommand.run(args.subList(2, args.size()), System.out);
            }
            if (!args.isEmpty() && args.get(0).equals("generate")) {
                return GenerateCommand.run(args.subList(1, args.size()), System.out);
            }
            throw new CliException("usage: quiver model make DIR [--size tiny|small] [--adapters N] [--dtype f32|bf16]\n"
                    + "       quiver generate --model DIR [--adapter NAME=DIR ...] [--weight-format native|q8_0] --input in.jsonl "
                    + "--output out.jsonl");
        } catch (CliException e) {
            System.err.println("quiver: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            System.err.println("quiver: " + e.getMessage());
            return 1;
        }
    }
}
