package dev.quiver.edge.jinja;

import java.time.ZonedDateTime;

/** Python's {@code datetime.strftime} in the C locale, for transformers' {@code strftime_now} template global. */
public final class Strftime {
    private Strftime() {
    }

    /**
     * Formats {@code time} with {@code format}'s %-directives (%d %e %m %Y %y %b %B %a %A %H %I %M %S %p %j %f %F %T
     * %w %u %%).
     *
     * @throws TemplateException naming an unsupported directive
     */
    public static String format(ZonedDateTime time, String format) {
        return Formats.strftime(time, format);
    }
}
