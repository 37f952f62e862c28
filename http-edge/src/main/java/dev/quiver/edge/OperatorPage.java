package dev.quiver.edge;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;

/**
 * {@code GET /ui}: the operator's page (resource {@code dev/quiver/edge/ui/index.html}), plain HTML and a small script
 * that polls the node's own APIs: {@code /ready} (members, workers) without a key, {@code /v1/adapters} and
 * {@code /v1/events} with the admin key the operator enters. The page itself carries no data, so it needs no key.
 */
final class OperatorPage {
    private static final byte[] HTML = load();

    private OperatorPage() {
    }

    static HttpResponse response() {
        return HttpResponse.create().withEntity(ContentTypes.TEXT_HTML_UTF8, HTML)
                .addHeader(RawHeader.create("Cache-Control", "no-store"))
                .addHeader(RawHeader.create("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' "
                        + "'self'; style-src 'unsafe-inline'"));
    }

    private static byte[] load() {
        try (InputStream in = OperatorPage.class.getResourceAsStream("ui/index.html")) {
            if (in == null) {
                throw new IllegalStateException("ui/index.html is missing from the quiver-http-edge jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
