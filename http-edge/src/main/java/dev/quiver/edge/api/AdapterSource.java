package dev.quiver.edge.api;

import java.util.Map;

/**
 * Where a new adapter version comes from: exactly one of a {@code file://} URI (or plain path) on the server,
 * an uploaded {@code .tar}/{@code .tar.gz} archive, or the two files uploaded as multipart parts.
 */
public record AdapterSource(String uri, byte[] archive, Map<String, byte[]> files) {
    public static AdapterSource ofUri(String uri) {
        return new AdapterSource(uri, null, null);
    }

    public static AdapterSource ofArchive(byte[] archive) {
        return new AdapterSource(null, archive, null);
    }

    public static AdapterSource ofFiles(Map<String, byte[]> files) {
        return new AdapterSource(null, null, Map.copyOf(files));
    }

    /** How the audit log names this source (never the bytes). */
    public String describe() {
        if (uri != null) {
            return uri;
        }
        return archive != null ? "upload:archive (" + archive.length + " bytes)" : "upload:multipart " + files.keySet();
    }
}
