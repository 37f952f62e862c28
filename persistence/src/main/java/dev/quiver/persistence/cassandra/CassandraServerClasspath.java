package dev.quiver.persistence.cassandra;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The class path of the embedded Cassandra server: the jars of
 * {@code org.apache.cassandra:cassandra-all} and its dependencies in the local Maven repository,
 * resolved at build time by a nested Maven run over {@code persistence/src/cassandra/pom.xml}
 * and written to the class-path resource {@value #RESOURCE}. None of these jars is on a Quiver
 * node's class path: they run only in the child JVM.
 */
public final class CassandraServerClasspath {

  static final String RESOURCE = "/dev/quiver/persistence/cassandra/cassandra.classpath";

  private final List<Path> jars;

  private CassandraServerClasspath(List<Path> jars) {
    this.jars = List.copyOf(jars);
  }

  /** Reads and checks the resource; every jar it names must exist. */
  public static CassandraServerClasspath load() {
    String text;
    try (InputStream in = CassandraServerClasspath.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new CassandraStartException(
            "the embedded Cassandra's class path (" + RESOURCE + ") is not on the class path;"
                + " build the module with `mvn -pl persistence package`");
      }
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CassandraStartException("cannot read " + RESOURCE, e);
    }
    List<Path> jars = new ArrayList<>();
    for (String entry : text.strip().split(File.pathSeparator)) {
      if (!entry.isBlank()) {
        jars.add(Path.of(entry.strip()));
      }
    }
    List<Path> missing = jars.stream().filter(p -> !Files.isRegularFile(p)).toList();
    if (jars.isEmpty() || !missing.isEmpty()) {
      throw new CassandraStartException(
          "the embedded Cassandra's class path names " + missing.size() + " of " + jars.size()
              + " jars that are not in the local Maven repository (first: "
              + (missing.isEmpty() ? "none listed" : missing.get(0))
              + "); rebuild with `mvn -pl persistence package` to fetch them");
    }
    return new CassandraServerClasspath(jars);
  }

  public List<Path> jars() {
    return jars;
  }

  /** The jamm jar, which Cassandra wants as a {@code -javaagent} for memory measurement. */
  public Optional<Path> jammAgent() {
    return jars.stream()
        .filter(p -> p.getFileName().toString().matches("jamm-[0-9.]+\\.jar"))
        .findFirst();
  }

  /** Joined with the platform's path separator, with {@code extra} entries appended. */
  public String asArgument(List<Path> extra) {
    List<String> all = new ArrayList<>();
    jars.forEach(p -> all.add(p.toString()));
    extra.forEach(p -> all.add(p.toString()));
    return String.join(File.pathSeparator, all);
  }
}
