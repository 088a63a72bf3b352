//! Where each field is in the file.
//!
//! serde, by design, forgets positions once a value is deserialized, and errors found after
//! parsing (an unknown policy, a cycle) have only a path. So the text is read a second time
//! with yaml-rust2's event parser, which marks every event with its position, and each path
//! is recorded with the position of its key (for a mapping entry) or of the item (for a
//! sequence entry).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::error::{ErrorKind, FieldError, FieldPath, Location, PathSegment};

/// Far deeper than any config (the deepest field is about 5 levels down).
const MAX_DEPTH: usize = 64;

/// Path -> position of every node of a YAML document.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    at: HashMap<FieldPath, Location>,
}

impl Spans {
    /// Positions of `text`'s first document, or its syntax error.
    ///
    /// This runs before serde_norway and also guards it: libyaml takes time quadratic in
    /// the nesting depth (30 s for 100k `[`), yaml-rust2 is linear, so a document nested
    /// deeper than any config is rejected here.
    pub(crate) fn of(text: &str) -> Result<Spans, FieldError> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if let Err(e) = parser.load(&mut builder, false) {
            return Err(FieldError::new(
                FieldPath::root(),
                ErrorKind::Syntax {
                    message: e.info().to_owned(),
                },
            )
            .at(Some(location(e.marker()))));
        }
        if let Some(at) = builder.too_deep {
            return Err(FieldError::new(
                FieldPath::root(),
                ErrorKind::Syntax {
                    message: format!("nested deeper than {MAX_DEPTH} levels"),
                },
            )
            .at(Some(at)));
        }
        Ok(Spans { at: builder.at })
    }

    /// The position of `path`, or of its nearest ancestor in the file (a missing field is
    /// reported at its parent; a field inside an alias at the alias; with no node at all,
    /// the top of the file).
    pub(crate) fn locate(&self, path: &FieldPath) -> Option<Location> {
        let mut p = path.clone();
        loop {
            if let Some(l) = self.at.get(&p) {
                return Some(*l);
            }
            if p.is_root() {
                // A file of only comments has no root node: what it lacks is at its top.
                return Some(Location { line: 1, column: 1 });
            }
            p = p.parent();
        }
    }
}

enum Frame {
    Map {
        /// The key just read, whose value comes next; `None` while expecting a key.
        key: Option<String>,
    },
    Seq {
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    at: HashMap<FieldPath, Location>,
    path: FieldPath,
    stack: Vec<Frame>,
    /// Depth inside a complex key, whose contents have no path.
    skip: usize,
    /// Mappings and sequences open, complex keys included.
    depth: usize,
    /// Where the document first got deeper than [`MAX_DEPTH`].
    too_deep: Option<Location>,
}

fn location(m: &Marker) -> Location {
    // yaml-rust2 lines start at 1 and columns at 0.
    Location {
        line: m.line(),
        column: m.col() + 1,
    }
}

impl Builder {
    /// A node starts at `m`: record it, and return whether it is a value (not a key).
    fn node(&mut self, m: &Marker, scalar_key: Option<&str>) -> bool {
        match self.stack.last_mut() {
            None => {
                self.at.entry(FieldPath::root()).or_insert(location(m));
                true
            }
            Some(Frame::Seq { next }) => {
                let seg = PathSegment::Index(*next);
                *next += 1;
                self.path.push(seg);
                self.at.entry(self.path.clone()).or_insert(location(m));
                true
            }
            Some(Frame::Map { key }) => match key.take() {
                Some(k) => {
                    self.path.push(PathSegment::Key(k));
                    // The key's position was recorded when the key was read.
                    true
                }
                None => {
                    if let Some(k) = scalar_key {
                        let p = self.path.key(k);
                        self.at.entry(p).or_insert(location(m));
                        *key = Some(k.to_owned());
                    }
                    false
                }
            },
        }
    }

    /// A scalar or alias: a key, or a value that ends where it starts.
    fn leaf(&mut self, m: &Marker, scalar_key: Option<&str>) {
        if self.node(m, scalar_key) {
            self.leave();
        }
    }

    /// A value ended: leave its path segment.
    fn leave(&mut self) {
        if !self.stack.is_empty() {
            self.path.pop();
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, m: Marker) {
        match ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH && self.too_deep.is_none() {
                    self.too_deep = Some(location(&m));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        if self.too_deep.is_some() {
            return;
        }
        if self.skip > 0 {
            match ev {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.skip += 1,
                Event::MappingEnd | Event::SequenceEnd => self.skip -= 1,
                _ => {}
            }
            if self.skip == 0 {
                // The complex key ended; its value gets a placeholder key.
                if let Some(Frame::Map { key }) = self.stack.last_mut() {
                    *key = Some("?".to_owned());
                }
            }
            return;
        }
        match ev {
            Event::Scalar(value, ..) => self.leaf(&m, Some(&value)),
            Event::Alias(_) => self.leaf(&m, None),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                if self.node(&m, None) {
                    self.stack.push(if is_map {
                        Frame::Map { key: None }
                    } else {
                        Frame::Seq { next: 0 }
                    });
                } else {
                    self.skip = 1;
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.leave();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(spans: &Spans, path: &str) -> Option<(usize, usize)> {
        spans
            .at
            .iter()
            .find(|(p, _)| p.to_string() == path)
            .map(|(_, l)| (l.line, l.column))
    }

    #[test]
    fn block_and_flow() {
        let text = "\
dns:
  listen: [\"127.0.0.1:53\"]
clients:
  - { subnet: 10.0.0.0/8, policy: main }
  - subnet: 10.1.0.0/16
    policy: kids
policies:
  kids:
    extends: main
";
        let s = Spans::of(text).unwrap();
        assert_eq!(at(&s, "dns"), Some((1, 1)));
        assert_eq!(at(&s, "dns.listen"), Some((2, 3)));
        assert_eq!(at(&s, "dns.listen[0]"), Some((2, 12)));
        assert_eq!(at(&s, "clients[0]"), Some((4, 5)));
        assert_eq!(at(&s, "clients[0].policy"), Some((4, 27)));
        assert_eq!(at(&s, "clients[1].policy"), Some((6, 5)));
        assert_eq!(at(&s, "policies.kids.extends"), Some((9, 5)));
        let missing = FieldPath::root().key("policies").key("kids").key("lists");
        assert_eq!(s.locate(&missing).map(|l| l.line), Some(8));
    }

    #[test]
    fn complex_keys_and_aliases_do_not_confuse_paths() {
        let text = "a: &x {b: 1}\n? [k]\n: v\nc: *x\nd: 2\n";
        let s = Spans::of(text).unwrap();
        assert_eq!(at(&s, "a.b"), Some((1, 8)));
        assert_eq!(at(&s, "c"), Some((4, 1)));
        assert_eq!(at(&s, "d"), Some((5, 1)));
    }

    #[test]
    fn deep_nesting_is_a_syntax_error() {
        let e = Spans::of(&format!("a:\n  b: {}{}", "[".repeat(100), "]".repeat(100))).unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(e.to_string().contains("nested deeper than 64"), "{e}");
        assert!(Spans::of(&format!("a: {}{}", "[".repeat(60), "]".repeat(60))).is_ok());
    }
}
