package dev.quiver.sources;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * What a person watching a fetch sees: on a terminal a bar per file (bytes, rate, ETA) redrawn in place; in logs a
 * line per file every few seconds. One instance per fetch; {@link #close()} prints the last state and stops the
 * ticker. Downloads report through {@link Task}s, from any thread.
 */
public final class DownloadProgress implements AutoCloseable {
    /** One file's download. */
    public final class Task {
        final String file;
        final long total;
        final long startNanos;
        final AtomicLong done = new AtomicLong();
        volatile boolean finished;

        Task(String file, long total, long startNanos) {
            this.file = file;
            this.total = total;
            this.startNanos = startNanos;
        }

        public void advance(long bytes) {
            done.addAndGet(bytes);
        }

        /** Bytes already there (a resumed partial download) count as done but not towards the rate. */
        public void resumedAt(long bytes) {
            done.set(bytes);
        }

        public void finish() {
            finished = true;
            tasks.remove(file);
            String msg = "downloaded " + file + ": " + bytes(done.get()) + " in "
                    + duration(Duration.ofNanos(clock.getAsLong() - startNanos));
            if (sink != null) {
                sink.accept(msg);
            }
            if (terminal != null) {
                synchronized (DownloadProgress.this) {
                    redraw(List.of());
                    terminal.println(msg);
                    terminal.flush();
                }
            }
        }

        public void fail() {
            tasks.remove(file);
        }
    }

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final Consumer<String> sink;
    private final PrintStream terminal;
    private final LongSupplier clock;
    private final ScheduledExecutorService ticker;
    private int drawnLines;

    private DownloadProgress(Consumer<String> sink, PrintStream terminal, Duration interval, LongSupplier clock) {
        this.sink = sink;
        this.terminal = terminal;
        this.clock = clock;
        if (sink == null && terminal == null) {
            ticker = null;
        } else {
            ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "quiver-download-progress");
                t.setDaemon(true);
                return t;
            });
            long ms = Math.max(50, interval.toMillis());
            ticker.scheduleAtFixedRate(this::tick, ms, ms, TimeUnit.MILLISECONDS);
        }
    }

    /** Log lines every {@code interval}: "downloading FILE: 1.2 GB / 16.0 GB (7%), 85.3 MB/s, ETA 3m10s". */
    public static DownloadProgress toLog(Consumer<String> sink, Duration interval) {
        return new DownloadProgress(sink, null, interval, System::nanoTime);
    }

    /** Bars redrawn in place on {@code out} (a terminal) four times a second. */
    public static DownloadProgress toTerminal(PrintStream out) {
        return new DownloadProgress(null, out, Duration.ofMillis(250), System::nanoTime);
    }

    public static DownloadProgress off() {
        return new DownloadProgress(null, null, Duration.ZERO, System::nanoTime);
    }

    /** Starts reporting a file of {@code totalBytes} (-1 when unknown). */
    public Task start(String file, long totalBytes) {
        Task t = new Task(file, totalBytes, clock.getAsLong());
        tasks.put(file, t);
        return t;
    }

    /** The current line for each file being downloaded (what the log and the terminal show). */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        long now = clock.getAsLong();
        for (Task t : tasks.values().stream().sorted((a, b) -> a.file.compareTo(b.file)).toList()) {
            out.add(line(t, now));
        }
        return out;
    }

    private void tick() {
        List<String> lines = lines();
        if (sink != null) {
            lines.forEach(l -> sink.accept("downloading " + l));
        }
        if (terminal != null) {
            synchronized (this) {
                redraw(lines);
            }
        }
    }

    private void redraw(List<String> lines) {
        StringBuilder sb = new StringBuilder();
        if (drawnLines > 0) {
            sb.append("\033[").append(drawnLines).append('A');
        }
        for (String l : lines) {
            sb.append("\r\033[2K").append(l).append('\n');
        }
        for (int i = lines.size(); i < drawnLines; i++) {
            sb.append("\r\033[2K\n");
        }
        int extra = Math.max(0, drawnLines - lines.size());
        if (extra > 0) {
            sb.append("\033[").append(extra).append('A');
        }
        drawnLines = lines.size();
        terminal.print(sb);
        terminal.flush();
    }

    private static String line(Task t, long now) {
        long done = t.done.get();
        double secs = Math.max(1e-3, (now - t.startNanos) / 1e9);
        double rate = done / secs;
        StringBuilder sb = new StringBuilder(t.file).append(": ").append(bytes(done));
        if (t.total > 0) {
            int pct = (int) Math.min(100, done * 100 / t.total);
            sb.append(" / ").append(bytes(t.total)).append(" (").append(pct).append("%)");
            sb.append(", ").append(bytes((long) rate)).append("/s");
            if (rate > 0 && done < t.total) {
                sb.append(", ETA ").append(duration(Duration.ofSeconds((long) ((t.total - done) / rate))));
            }
            int filled = pct / 5;
            sb.append("  [").append("#".repeat(filled)).append("-".repeat(20 - filled)).append(']');
        } else {
            sb.append(", ").append(bytes((long) rate)).append("/s");
        }
        return sb.toString();
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String duration(Duration d) {
        long s = d.toSeconds();
        if (s < 60) {
            return d.toMillis() < 10_000 ? String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0) : s + "s";
        }
        return s < 3600 ? (s / 60) + "m" + (s % 60) + "s" : (s / 3600) + "h" + (s % 3600 / 60) + "m";
    }

    @Override
    public void close() {
        if (ticker != null) {
            ticker.shutdownNow();
            if (terminal != null) {
                synchronized (this) {
                    redraw(lines());
                }
            }
        }
    }
}
