//! `docs/configuration.md` documents exactly the keys the parser accepts.

use std::collections::BTreeSet;

use autobranch_core::config::SCHEMA;

#[test]
fn configuration_reference_lists_every_key_and_no_other() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md"))
        .expect("docs/configuration.md exists");
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(key, _)| key.to_owned()))
        .collect();
    let parsed: BTreeSet<String> =
        SCHEMA.iter().flat_map(|(section, keys)| keys.iter().map(move |k| format!("{section}.{k}"))).collect();
    assert_eq!(documented, parsed);
}
