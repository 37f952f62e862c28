package dev.quiver.persistence.blob;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The deterministic tar form of an adapter directory. */
class AdapterPackageTest {

  @TempDir Path tmp;

  static Path adapterDir(Path parent, String name, int weightBytes, long seed) throws IOException {
    Path dir = Files.createDirectories(parent.resolve(name));
    Files.writeString(dir.resolve(AdapterPackage.CONFIG),
        "{\"r\": 16, \"lora_alpha\": 32, \"target_modules\": [\"q_proj\", \"v_proj\"]}");
    byte[] weights = new byte[weightBytes];
    new Random(seed).nextBytes(weights);
    Files.write(dir.resolve(AdapterPackage.WEIGHTS), weights);
    return dir;
  }

  private static byte[] archive(Path dir) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    AdapterPackage.write(dir, out);
    return out.toByteArray();
  }

  @Test
  void round_trips_an_adapter_directory() throws IOException {
    Path dir = adapterDir(tmp, "a", 10_000, 1);
    Path target = Files.createDirectories(tmp.resolve("out"));
    AdapterPackage.extract(new ByteArrayInputStream(archive(dir)), target);
    for (String name : AdapterPackage.FILES) {
      assertArrayEquals(Files.readAllBytes(dir.resolve(name)),
          Files.readAllBytes(target.resolve(name)), name);
    }
  }

  @Test
  void the_same_files_always_give_the_same_bytes() throws IOException {
    Path a = adapterDir(tmp, "a", 4096, 7);
    Path b = adapterDir(tmp, "b", 4096, 7);
    Files.setLastModifiedTime(b.resolve(AdapterPackage.WEIGHTS),
        java.nio.file.attribute.FileTime.fromMillis(0));
    assertArrayEquals(archive(a), archive(b));
  }

  @Test
  void is_a_standard_ustar_archive() throws IOException {
    byte[] tar = archive(adapterDir(tmp, "a", 100, 1));
    assertEquals("ustar", new String(tar, 257, 5, StandardCharsets.US_ASCII));
    assertEquals(0, tar.length % 512);
  }

  @Test
  void refuses_a_directory_without_weights() throws IOException {
    Path dir = adapterDir(tmp, "a", 10, 1);
    Files.delete(dir.resolve(AdapterPackage.WEIGHTS));
    IOException e = assertThrows(IOException.class, () -> archive(dir));
    assertTrue(e.getMessage().contains(AdapterPackage.WEIGHTS), e.getMessage());
  }

  @Test
  void refuses_to_extract_an_entry_with_another_name() throws IOException {
    byte[] tar = archive(adapterDir(tmp, "a", 10, 1));
    byte[] evil = "../../etc/cron.d/x".getBytes(StandardCharsets.US_ASCII);
    Arrays.fill(tar, 0, 100, (byte) 0);
    System.arraycopy(evil, 0, tar, 0, evil.length);
    Path target = Files.createDirectories(tmp.resolve("out"));
    IOException e = assertThrows(IOException.class,
        () -> AdapterPackage.extract(new ByteArrayInputStream(tar), target));
    assertTrue(e.getMessage().contains("unexpected entry"), e.getMessage());
    try (var files = Files.list(target)) {
      assertEquals(0, files.count());
    }
  }

  @Test
  void refuses_a_truncated_archive() throws IOException {
    byte[] tar = archive(adapterDir(tmp, "a", 5000, 1));
    byte[] cut = Arrays.copyOf(tar, 512 + 100);
    Path target = Files.createDirectories(tmp.resolve("out"));
    assertThrows(IOException.class,
        () -> AdapterPackage.extract(new ByteArrayInputStream(cut), target));
  }
}
