//! Reading configuration files defensively: a size cap, a YAML pre-pass that bounds what
//! aliases expand to, and a JSON pre-pass that refuses repeated keys. The `config` crate
//! parses the file afterwards as before; these checks only decide whether it may.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use yaml_rust2::Event;
use yaml_rust2::parser::Parser;

use super::ConfigError;
use super::raw::Raw;

/// Largest configuration file read, in bytes (1 MiB); a real one is a few hundred bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Most YAML nodes a file may hold once its aliases are expanded.
pub const MAX_YAML_NODES: u64 = 100_000;

/// Most bytes of YAML scalar text a file may hold once its aliases are expanded (4 MiB).
pub const MAX_YAML_TEXT_BYTES: u64 = 4 << 20;

/// Deepest nesting of mappings and lists accepted in a file or an environment override
/// name; the schema needs three levels.
pub const MAX_NESTING: usize = 64;

/// Reads `path`, refusing files over [`MAX_CONFIG_BYTES`]. The read itself is bounded too,
/// so a FIFO or a device that reports no size cannot make it allocate without end.
pub(super) fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    let unreadable = |e: std::io::Error| ConfigError::Unreadable { path: path.to_owned(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let reported = file.metadata().map(|m| m.len()).unwrap_or(0);
    let too_large = |size| ConfigError::TooLarge { path: path.to_owned(), size, limit: MAX_CONFIG_BYTES };
    if reported > MAX_CONFIG_BYTES {
        return Err(too_large(reported));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| ConfigError::Unreadable {
        path: path.to_owned(),
        reason: format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })
}

/// What a YAML node expands to.
#[derive(Clone, Copy, Default)]
struct Size {
    nodes: u64,
    text: u64,
}

impl Size {
    fn plus(self, other: Size) -> Size {
        Size { nodes: self.nodes.saturating_add(other.nodes), text: self.text.saturating_add(other.text) }
    }
}

/// Refuses YAML whose aliases would expand beyond [`MAX_YAML_NODES`] nodes or
/// [`MAX_YAML_TEXT_BYTES`] of text, or that nests deeper than [`MAX_NESTING`].
///
/// yaml-rust2's loader (which `config` uses) resolves an alias by cloning the anchored node,
/// so "billion laughs" (nine levels of nine aliases) grows to gigabytes before `config` sees
/// a value. Its event parser, in contrast, reports an alias as one event and never copies, so
/// walking the events first costs memory proportional to the file and tells exactly how
/// large the loaded document would be. Aliases stay usable for what configurations need
/// (sharing one `generator` section with `embedding`); only amplification is refused.
pub(super) fn check_yaml(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut parser = Parser::new_from_str(text);
    // Expanded size of each anchor, by the parser's anchor id (0 = no anchor).
    let mut anchors: HashMap<usize, Size> = HashMap::new();
    // Collections still open: their anchor id and their expanded size so far.
    let mut open: Vec<(usize, Size)> = Vec::new();
    let mut loaded = Size::default();
    loop {
        let (event, _) = parser.next_token().map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
        let (added, finished) = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(value, _, anchor, _) => {
                let size = Size { nodes: 1, text: value.len() as u64 };
                (size, Some((anchor, size)))
            }
            Event::Alias(id) => {
                let size = anchors.get(&id).copied().unwrap_or(Size { nodes: 1, text: 0 });
                (size, Some((0, size)))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_NESTING {
                    return Err(ConfigError::TooDeep {
                        input: format!("config file {}", path.display()),
                        limit: MAX_NESTING,
                    });
                }
                let size = Size { nodes: 1, text: 0 };
                open.push((anchor, size));
                (size, None)
            }
            Event::SequenceEnd | Event::MappingEnd => (Size::default(), open.pop()),
            _ => continue,
        };
        loaded = loaded.plus(added);
        if let Some((anchor, size)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, size);
            }
            // A finished node (a collection with everything in it) belongs to the one around it.
            if let Some((_, parent)) = open.last_mut() {
                *parent = parent.plus(size);
            }
        }
        if loaded.nodes > MAX_YAML_NODES {
            return Err(ConfigError::YamlTooLarge { path: path.to_owned(), what: "nodes", limit: MAX_YAML_NODES });
        }
        if loaded.text > MAX_YAML_TEXT_BYTES {
            return Err(ConfigError::YamlTooLarge {
                path: path.to_owned(),
                what: "bytes of text",
                limit: MAX_YAML_TEXT_BYTES,
            });
        }
    }
}

/// Refuses a JSON file that gives one key twice in a mapping (`serde_json::Value`, which
/// `config` parses into, would silently keep the last one).
pub(super) fn check_json(path: &Path, text: &str) -> Result<(), ConfigError> {
    let raw: Raw = serde_json::from_str(text).map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
    match raw.first_duplicate_key("") {
        Some(key) => Err(ConfigError::DuplicateKey { path: path.to_owned(), key }),
        None => Ok(()),
    }
}
