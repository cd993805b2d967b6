//! Record paths beyond the fixed schema that a run asks the decoder to capture.

use crate::FIXED_FIELDS;

/// Record paths beyond the fixed schema that the decoder should capture for every event, such as
/// `requestParameters.attribute` or `userIdentity.sessionContext.sessionIssuer.type` (Sigma rules
/// reference them). Each path gets an id, its position here; events carry `(id, value)` pairs.
///
/// A captured value is the string's text for a JSON string, and the JSON text as written for a
/// number, boolean, object or array. Fixed-schema paths are not captured again.
///
/// A path below a listed record key (`requestParameters.userName` when `requestParameters` is
/// listed too) is *derived*: the decoder does not capture it, since the key's JSON text is
/// captured anyway, and readers resolve it from that text when they need it
/// (`trailhound_decode::extra_value`). Only rules whose other conditions hold read such paths,
/// so most events never pay for them. Sources are record keys only, which CloudTrail writes as
/// objects (or null); a deeper listed path may be a string holding JSON text (a policy document),
/// which a derived path must not walk into. `userIdentity` is parsed typed and never captured
/// whole, so it is never a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraFields {
    paths: Vec<String>,
    /// Per path: the id of the record key it lies below, if listed, and the byte offset of the
    /// rest of the path after that key and its dot.
    derived: Vec<Option<(u16, usize)>>,
}

impl ExtraFields {
    /// The distinct paths that are not part of the fixed schema, in first-seen order.
    pub fn new<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for p in paths {
            let p = p.into();
            if !p.is_empty() && !FIXED_FIELDS.contains(&p.as_str()) && !out.contains(&p) {
                out.push(p);
            }
        }
        assert!(out.len() <= u16::MAX as usize, "too many extra fields");
        // A path's source is its first segment (a record key), when that is listed too.
        let derived = out
            .iter()
            .map(|p| {
                let (key, _) = p.split_once('.')?;
                let source = out.iter().position(|q| q == key && key != "userIdentity")?;
                Some((source as u16, key.len() + 1))
            })
            .collect();
        Self {
            paths: out,
            derived,
        }
    }

    /// For a derived path (see the type's notes): the id of the record key it lies below, and
    /// the rest of the path (`("requestParameters" id, "userName")`). `None` for a captured path.
    pub fn derived(&self, id: u16) -> Option<(u16, &str)> {
        let (source, offset) = (*self.derived.get(id as usize)?)?;
        Some((source, &self.paths[id as usize][offset..]))
    }

    /// The paths, indexed by id.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The id of `path`, if it is captured.
    pub fn id(&self, path: &str) -> Option<u16> {
        self.paths.iter().position(|p| p == path).map(|i| i as u16)
    }

    /// True when nothing beyond the fixed schema is captured.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_extra_paths_name_their_record_key() {
        let x = ExtraFields::new([
            "requestParameters.a.b",
            "requestParameters",
            "requestParameters.a",
            "requestParametersX.c",
            "userIdentity",
            "userIdentity.sessionContext.x",
            "eventName",
        ]);
        assert_eq!(x.paths().len(), 6, "fixed paths are left out");
        let id = |p: &str| x.id(p).unwrap();
        let rp = id("requestParameters");
        assert_eq!(x.derived(id("requestParameters.a.b")), Some((rp, "a.b")));
        assert_eq!(x.derived(id("requestParameters.a")), Some((rp, "a")));
        assert_eq!(x.derived(rp), None);
        let deeper = ExtraFields::new(["requestParameters.a", "requestParameters.a.b"]);
        assert_eq!(deeper.derived(1), None, "only record keys are sources");
        assert_eq!(
            x.derived(id("requestParametersX.c")),
            None,
            "a prefix ends at a dot"
        );
        assert_eq!(x.derived(id("userIdentity.sessionContext.x")), None);
        assert_eq!(x.derived(99), None);
    }
}
