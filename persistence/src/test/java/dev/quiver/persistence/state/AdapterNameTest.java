package dev.quiver.persistence.state;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AdapterNameTest {

    @Test
    void accepts_plain_names_and_one_org_prefix_as_hub_repo_ids_have() {
        for (String ok : new String[] {"sql-lora", "adapter_01.v2", "my-org/sql-lora", "Org.1/x"}) {
            assertTrue(LifecycleRules.ADAPTER_NAME.matcher(ok).matches(), ok);
        }
    }

    @Test
    void refuses_paths_empty_segments_and_more_than_one_slash() {
        for (String bad : new String[] {"", "/x", "x/", "a/b/c", "../x", "a/../b", "-x", "a b", "org/-x"}) {
            assertFalse(LifecycleRules.ADAPTER_NAME.matcher(bad).matches(), bad);
        }
    }
}
