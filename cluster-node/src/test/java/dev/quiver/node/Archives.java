package dev.quiver.node;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Builds adapter uploads for tests: a ustar .tar.gz and a multipart/form-data body. */
final class Archives {
    private Archives() {
    }

    static Map<String, byte[]> adapterFiles(Path dir) {
        try {
            Map<String, byte[]> m = new LinkedHashMap<>();
            m.put("adapter_config.json", Files.readAllBytes(dir.resolve("adapter_config.json")));
            m.put("adapter_model.safetensors", Files.readAllBytes(dir.resolve("adapter_model.safetensors")));
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] tarGz(Map<String, byte[]> files, String prefix) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
                for (Map.Entry<String, byte[]> f : files.entrySet()) {
                    byte[] h = new byte[512];
                    put(h, 0, prefix + f.getKey());
                    put(h, 100, "0000644");
                    put(h, 108, "0000000");
                    put(h, 116, "0000000");
                    put(h, 124, String.format("%011o", f.getValue().length));
                    put(h, 136, String.format("%011o", 0));
                    h[156] = '0';
                    put(h, 257, "ustar");
                    h[263] = '0';
                    h[264] = '0';
                    for (int i = 148; i < 156; i++) {
                        h[i] = ' ';
                    }
                    long sum = 0;
                    for (byte b : h) {
                        sum += b & 0xff;
                    }
                    put(h, 148, String.format("%06o", sum));
                    h[154] = 0;
                    gz.write(h);
                    gz.write(f.getValue());
                    gz.write(new byte[(512 - f.getValue().length % 512) % 512]);
                }
                gz.write(new byte[1024]);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, off, b.length);
    }

    static final String BOUNDARY = "quiver-test-boundary-7d1f";

    static byte[] multipart(Map<String, String> fields, Map<String, byte[]> files) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        fields.forEach((k, v) -> out.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + k
                + "\"\r\n\r\n" + v + "\r\n").getBytes(StandardCharsets.UTF_8)));
        files.forEach((k, v) -> {
            out.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + k + "\"; filename=\"" + k
                    + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            out.writeBytes(v);
            out.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        });
        out.writeBytes(("--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }
}
