//! Where each field of a spec file is: a map from a field's path
//! (`source.path`, `stage[2].threshold`, `stage[0].rules.short`) to the
//! line and column of its key and of its value.
//!
//! TOML comes from toml's spanned document tree. YAML is read line by line
//! for its block structure (the form specs are written in); a field inside
//! a flow mapping (`{ a: 1 }`) is found at its parent.

use std::collections::HashMap;

/// 1-based line and column.
pub type LineCol = (usize, usize);

#[derive(Debug, Clone, Copy)]
struct Place {
    key: LineCol,
    value: LineCol,
}

/// Field paths and their places in one file.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    places: HashMap<String, Place>,
}

impl Locator {
    /// The key of `path`, or of its nearest located parent.
    pub fn key(&self, path: &str) -> Option<LineCol> {
        self.nearest(path).map(|p| p.key)
    }

    /// The value of `path` (inside its quotes), or the nearest located parent's key.
    pub fn value(&self, path: &str) -> Option<LineCol> {
        match self.places.get(path) {
            Some(p) => Some(p.value),
            None => self.nearest(path).map(|p| p.key),
        }
    }

    fn nearest(&self, path: &str) -> Option<&Place> {
        let mut p = path;
        loop {
            if let Some(place) = self.places.get(p) {
                return Some(place);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// The places of a TOML document (empty if it does not parse).
    pub fn toml(text: &str) -> Locator {
        let mut out = Locator::default();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            let lines = Lines::new(text);
            walk_toml_table(doc.get_ref(), "", &lines, &mut out);
        }
        out
    }

    /// The places of a block-style YAML document.
    pub fn yaml(text: &str) -> Locator {
        let mut out = Locator::default();
        // (indent, path, items seen if the value is a sequence, is a sequence item)
        struct Open {
            indent: usize,
            path: String,
            items: usize,
            item: bool,
        }
        let mut stack: Vec<Open> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let mut content = &raw[indent..];
            if content.is_empty() || content.starts_with('#') || content == "---" {
                continue;
            }
            let mut col = indent;
            if content == "-" || content.starts_with("- ") {
                while stack
                    .last()
                    .is_some_and(|o| o.indent > indent || (o.item && o.indent == indent))
                {
                    stack.pop();
                }
                let (parent, k) = match stack.last_mut() {
                    Some(o) => {
                        o.items += 1;
                        (o.path.clone(), o.items - 1)
                    }
                    None => (String::new(), 0),
                };
                let path = format!("{parent}[{k}]");
                let place = (line, indent + 1);
                out.places.insert(
                    path.clone(),
                    Place {
                        key: place,
                        value: place,
                    },
                );
                stack.push(Open {
                    indent,
                    path,
                    items: 0,
                    item: true,
                });
                let rest = content[1..].trim_start_matches(' ');
                col = indent + (content.len() - rest.len());
                content = rest;
                if content.is_empty() {
                    continue;
                }
            }
            let Some((key, after)) = yaml_key(content) else {
                continue;
            };
            while stack.last().is_some_and(|o| o.indent >= col) {
                stack.pop();
            }
            let parent = stack.last().map(|o| o.path.as_str()).unwrap_or("");
            let path = if parent.is_empty() {
                key.to_string()
            } else {
                format!("{parent}.{key}")
            };
            let value_at = content.len() - after.trim_start().len();
            let quote = after.trim_start().starts_with(['"', '\'']) as usize;
            out.places.insert(
                path.clone(),
                Place {
                    key: (line, col + 1),
                    value: (line, col + value_at + quote + 1),
                },
            );
            stack.push(Open {
                indent: col,
                path,
                items: 0,
                item: false,
            });
        }
        out
    }
}

/// `key: rest` of a YAML mapping line, the key unquoted.
fn yaml_key(content: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(q) = content.strip_prefix('"') {
        let end = q.find('"')?;
        (&q[..end], q[end + 1..].strip_prefix(':')?)
    } else if let Some(q) = content.strip_prefix('\'') {
        let end = q.find('\'')?;
        (&q[..end], q[end + 1..].strip_prefix(':')?)
    } else {
        let end = content
            .char_indices()
            .find(|&(i, c)| c == ':' && content[i + 1..].chars().next().is_none_or(|n| n == ' '))?
            .0;
        (&content[..end], &content[end + 1..])
    };
    Some((key.trim(), rest))
}

/// Byte offsets to 1-based line and column (columns count characters).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    fn at(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line, column + 1)
    }

    /// The start of a value, inside its quotes when it is a string.
    fn value_at(&self, offset: usize) -> LineCol {
        let rest = self.text.get(offset..).unwrap_or("");
        let skip = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else if rest.starts_with(['"', '\'']) {
            1
        } else {
            0
        };
        self.at(offset + skip)
    }
}

fn walk_toml_table(t: &toml::de::DeTable, prefix: &str, lines: &Lines, out: &mut Locator) {
    for (k, v) in t.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        out.places.insert(
            path.clone(),
            Place {
                key: lines.at(k.span().start),
                value: lines.value_at(v.span().start),
            },
        );
        walk_toml_value(v.get_ref(), &path, lines, out);
    }
}

fn walk_toml_value(v: &toml::de::DeValue, path: &str, lines: &Lines, out: &mut Locator) {
    match v {
        toml::de::DeValue::Table(t) => walk_toml_table(t, path, lines, out),
        toml::de::DeValue::Array(a) => {
            for (i, el) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let at = lines.at(el.span().start);
                out.places.insert(p.clone(), Place { key: at, value: at });
                walk_toml_value(el.get_ref(), &p, lines, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_fields_are_found_in_their_own_stage() {
        let t = "[source]\npath = \"x.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"a\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"b\"\n[stage.rules]\nshort = \"c\"\n";
        let l = Locator::toml(t);
        assert_eq!(l.value("source.path"), Some((2, 9)));
        assert_eq!(l.key("stage[0].where"), Some((6, 1)));
        assert_eq!(l.value("stage[1].where"), Some((10, 10)));
        assert_eq!(l.value("stage[1].rules.short"), Some((12, 10)));
        // A missing field is found at its stage's nearest located parent.
        assert_eq!(
            l.key("stage[1].threshold").map(|p| p.0),
            l.key("stage[1]").map(|p| p.0)
        );
    }

    #[test]
    fn yaml_fields_are_found_in_their_own_stage() {
        let y = "source:\n  path: x.jsonl\nstage:\n  - kind: filter\n    where: a\n  - kind: dedup\n    method: 'exact'\n    keep:\n      by: score\noutput:\n  tag: t\n";
        let l = Locator::yaml(y);
        assert_eq!(l.value("source.path"), Some((2, 9)));
        assert_eq!(l.key("stage[0].kind"), Some((4, 5)));
        assert_eq!(l.key("stage[1].kind"), Some((6, 5)));
        assert_eq!(l.value("stage[1].method"), Some((7, 14)));
        assert_eq!(l.key("stage[1].keep.by"), Some((9, 7)));
        assert_eq!(l.key("output.tag"), Some((11, 3)));
        // Sequences written at their key's indent.
        let y = "stage:\n- kind: filter\n  where: a\n- kind: dedup\n";
        let l = Locator::yaml(y);
        assert_eq!(l.key("stage[1].kind"), Some((4, 3)));
        assert_eq!(l.key("stage[0].where"), Some((3, 3)));
    }
}
