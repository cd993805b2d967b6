//! Loading and linting Sigma rules.
//!
//! A rule file must hold exactly one Sigma detection rule with an `id`, a `level` and the
//! logsource `product: aws, service: cloudtrail`; its detection must parse and compile (known
//! modifiers, a condition that names existing selections). Anything else is a [`LintError`]
//! (`file: reason`) and the file is left out; the other rules still load. Ids must be unique
//! across everything loaded: a second file with a known id is an error.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Level;
use crate::aggregation::Aggregation;

/// The shipped rules: (name, YAML), from `rules/sigma/aws/cloudtrail/` (SigmaHQ's) and
/// `rules/sigma/trailhound/` (Trailhound's own) at build time.
pub const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Trailhound's corrections of shipped rules that cannot work as written against what CloudTrail
/// really writes (`rules/sigma/overrides/`, path and text): each replaces the shipped file of the
/// same name, whose upstream text stays untouched beside it. Each file's header says why.
pub const OVERRIDES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/override_rules.rs"));

/// Shipped rules that are off unless `[sigma] enable` names them, with the reason: they assume
/// something about the trail that Trailhound cannot know.
pub const OFF_BY_DEFAULT: &[(&str, &str)] = &[
    (
        "37e1e3d8-3bd8-4f8e-904c-42ac8138c884",
        "assumes the trail is the AWS Organizations management account's: on any other account it raises every write call of every person and key, hourly",
    ),
    (
        "77caf516-34e5-4df9-b4db-20744fea0a60",
        "raises every console sign-in without MFA; aws-console-login-without-mfa-new-user raises the first one per user in 7 days",
    ),
];

/// The text of a shipped rule file after the overrides: the override of the same file name, if
/// any (with its path), else the shipped text.
pub fn with_override<'a>(path: &'a str, text: &'a str) -> (&'a str, &'a str) {
    let name = path.rsplit('/').next().unwrap_or(path);
    OVERRIDES
        .iter()
        .find(|(p, _)| p.rsplit('/').next() == Some(name))
        .map_or((path, text), |(p, t)| (*p, *t))
}

/// A loaded, valid Sigma rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The file it came from (`rules/sigma/aws/cloudtrail/…` for the shipped rules).
    pub file: String,
    /// The Sigma `id`.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Level,
    /// `status` (`stable`, `test`, `experimental`, …), if given.
    pub status: Option<String>,
    /// `author` (the Detection Rule License requires it in every alert).
    pub author: String,
    /// `description`.
    pub description: String,
    /// `references`.
    pub references: Vec<String>,
    /// `tags` (ATT&CK tactics and techniques such as `attack.t1078.004`).
    pub tags: Vec<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `name` (Sigma 2: how correlation rules may refer to it besides its id).
    pub name: Option<String>,
    /// The legacy aggregation of the condition, if any.
    pub aggregation: Option<Aggregation>,
    /// For a new-terms rule: the combination it tracks (the detection then only selects the
    /// events considered, and the rule raises no per-match alert).
    pub new_terms: Option<crate::new_terms::NewTerms>,
    /// The record paths the rule reads (detection fields, `fieldref` targets, aggregation fields).
    pub fields: BTreeSet<String>,
    /// The parsed rule, condition without its aggregation.
    pub(crate) sigma: rsigma_parser::SigmaRule,
}

impl Rule {
    /// The alert rule id: `sigma-<id>`.
    pub fn alert_rule_id(&self) -> String {
        format!("{}{}", crate::RULE_ID_PREFIX, self.id)
    }

    /// ATT&CK technique ids from the tags (`attack.t1078.004` → `T1078.004`).
    pub fn techniques(&self) -> Vec<String> {
        techniques(&self.tags)
    }

    /// The rule's kind: `sigma`, `sigma aggregation` (legacy `| count()`), or `new terms`.
    pub fn kind(&self) -> &'static str {
        if self.new_terms.is_some() {
            "new terms"
        } else if self.aggregation.is_some() {
            "sigma aggregation"
        } else {
            "sigma"
        }
    }
}

/// ATT&CK technique ids from Sigma tags (`attack.t1078.004` → `T1078.004`).
pub fn techniques(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack.t"))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| format!("T{}", t.to_ascii_uppercase()))
        .collect()
}

/// The line (1-based, in the file) of the first `key:` of `doc`, a document that starts at
/// `first_line`.
pub(crate) fn line_of(doc: &str, first_line: usize, key: &str) -> Option<usize> {
    doc.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| first_line + i)
}

/// A lint message naming the line of `field` (when found) and the field.
pub(crate) fn field_error(doc: &str, first_line: usize, field: &str, msg: &str) -> String {
    match line_of(doc, first_line, field) {
        Some(line) => format!("line {line}: field `{field}`: {msg}"),
        None => format!("field `{field}`: {msg}"),
    }
}

/// Why a rule file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// The file.
    pub file: String,
    /// The reason.
    pub reason: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

/// Rules loaded from any number of sources, and the files that were refused.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Valid rules, in load order.
    pub rules: Vec<Rule>,
    /// Valid correlation rules, in load order.
    pub correlations: Vec<crate::correlation::Correlation>,
    /// Refused files, in load order.
    pub errors: Vec<LintError>,
}

impl RuleSet {
    /// The shipped rules (`builtin`) and every `.yml`/`.yaml` file under `folders`.
    pub fn load(builtin: bool, folders: &[PathBuf]) -> RuleSet {
        let mut set = RuleSet::default();
        if builtin {
            for (name, text) in BUILTIN {
                let (name, text) = with_override(name, text);
                set.add(name, text);
            }
        }
        for folder in folders {
            set.add_folder(folder);
        }
        set.check_references();
        set
    }

    /// Refuses the correlation rules that name a rule not loaded (the error names the file,
    /// the line and the reference).
    pub fn check_references(&mut self) {
        let rules = &self.rules;
        let mut errors = Vec::new();
        self.correlations.retain(|c| {
            match c
                .rules
                .iter()
                .find(|r| crate::correlation::resolve(rules, r).is_none())
            {
                None => true,
                Some(missing) => {
                    let text = std::fs::read_to_string(&c.file).unwrap_or_default();
                    errors.push(LintError {
                        file: c.file.clone(),
                        reason: field_error(
                            &text,
                            1,
                            missing,
                            &format!(
                                "correlation {}: no loaded detection rule has the id or name {missing:?}",
                                c.id
                            ),
                        )
                        .replace(&format!("field `{missing}`"), "field `correlation.rules`"),
                    });
                    false
                }
            }
        });
        self.errors.extend(errors);
    }

    /// Adds every `.yml`/`.yaml` file under `folder` (recursively, in name order); a missing or
    /// unreadable folder or file is an error of its own.
    pub fn add_folder(&mut self, folder: &Path) {
        if !folder.is_dir() {
            self.errors.push(LintError {
                file: folder.display().to_string(),
                reason: "not a folder".to_owned(),
            });
            return;
        }
        for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let file = e
                        .path()
                        .map_or_else(|| folder.display().to_string(), |p| p.display().to_string());
                    self.errors.push(LintError {
                        file,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let path = entry.path();
            let is_yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
            if !entry.file_type().is_file() || !is_yaml {
                continue;
            }
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => self.add(&name, &text),
                    Err(_) => self.errors.push(LintError {
                        file: name,
                        reason: "not UTF-8 text".to_owned(),
                    }),
                },
                Err(e) => self.errors.push(LintError {
                    file: name,
                    reason: e.to_string(),
                }),
            }
        }
    }

    /// Adds one rule file's text (one or more YAML documents separated by `---`: detection
    /// rules, correlation rules, new-terms rules), or its errors.
    pub fn add(&mut self, file: &str, text: &str) {
        let docs = documents(text);
        let many = docs.len() > 1;
        for (first_line, doc) in docs {
            let parsed = parse_document(file, doc, first_line);
            let located = |reason: String| {
                if many && !reason.starts_with("line ") {
                    format!("document at line {first_line}: {reason}")
                } else {
                    reason
                }
            };
            let added = parsed.and_then(|p| {
                let id = p.id();
                match self.known_id(id) {
                    Some(other) => Err(format!("duplicate rule id {id} (also in {other})")),
                    None => {
                        match p {
                            Parsed::Rule(r) => self.rules.push(*r),
                            Parsed::Correlation(c) => self.correlations.push(*c),
                        }
                        Ok(())
                    }
                }
            });
            if let Err(reason) = added {
                self.errors.push(LintError {
                    file: file.to_owned(),
                    reason: located(reason),
                });
            }
        }
    }

    /// The file of the rule or correlation with this id, if loaded.
    fn known_id(&self, id: &str) -> Option<String> {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.file.clone())
            .or_else(|| {
                self.correlations
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| c.file.clone())
            })
    }

    /// True when a correlation names the rule (it is then kept whatever its level).
    fn counted(&self, r: &Rule) -> bool {
        self.correlations.iter().any(|c| c.counts(r))
    }

    /// Removes the shipped rules that are off by default ([`OFF_BY_DEFAULT`]) unless `enabled`
    /// names them (by id or file name). Returns the first name of `enabled` that is not such a
    /// rule, if any (then nothing is removed).
    pub fn drop_off_by_default<S: AsRef<str>>(&mut self, enabled: &[S]) -> Option<String> {
        let off = |r: &Rule| OFF_BY_DEFAULT.iter().any(|(id, _)| *id == r.id);
        if let Some(unknown) = enabled.iter().map(AsRef::as_ref).find(|n| {
            !self
                .rules
                .iter()
                .any(|r| off(r) && named(&r.id, &r.file, n))
        }) {
            return Some(unknown.to_owned());
        }
        self.rules
            .retain(|r| !off(r) || enabled.iter().any(|n| named(&r.id, &r.file, n.as_ref())));
        None
    }

    /// Keeps only the rules of at least `level` (and the rules correlations count, which raise
    /// no alert of their own unless the correlation says `generate`).
    pub fn retain_min_level(&mut self, level: Level) {
        self.correlations.retain(|c| c.level >= level);
        let keep: Vec<bool> = self
            .rules
            .iter()
            .map(|r| r.level >= level || self.counted(r))
            .collect();
        let mut k = keep.into_iter();
        self.rules.retain(|_| k.next().unwrap_or(true));
    }

    /// Removes the rules named in `names`, each a rule id or a file name (`x.yml`, or `x`
    /// without the extension). Returns the first name that matches no rule, if any (then
    /// nothing is removed).
    pub fn disable<S: AsRef<str>>(&mut self, names: &[S]) -> Option<String> {
        if let Some(unknown) = names.iter().map(AsRef::as_ref).find(|n| {
            !self.rules.iter().any(|r| named(&r.id, &r.file, n))
                && !self.correlations.iter().any(|c| named(&c.id, &c.file, n))
        }) {
            return Some(unknown.to_owned());
        }
        self.rules
            .retain(|r| !names.iter().any(|n| named(&r.id, &r.file, n.as_ref())));
        self.correlations
            .retain(|c| !names.iter().any(|n| named(&c.id, &c.file, n.as_ref())));
        self.check_references();
        None
    }
}

/// One parsed document of a rule file.
enum Parsed {
    Rule(Box<Rule>),
    Correlation(Box<crate::correlation::Correlation>),
}

impl Parsed {
    /// The document's rule id.
    fn id(&self) -> &str {
        match self {
            Parsed::Rule(r) => &r.id,
            Parsed::Correlation(c) => &c.id,
        }
    }
}

/// The YAML documents of a file, with the line each starts at (1-based); empty ones left out.
fn documents(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" {
            out.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    out.push((start_line, &text[start..]));
    out.retain(|(_, d)| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    if out.is_empty() {
        out.push((1, text));
    }
    out
}

/// Parses one document: a correlation rule, a new-terms rule, or a detection rule.
fn parse_document(file: &str, doc: &str, first_line: usize) -> Result<Parsed, String> {
    let value: yaml_serde::Value = yaml_serde::from_str(doc).map_err(|e| {
        let mut msg = format!("YAML: {e}");
        if let Some(loc) = e.location() {
            msg = format!("line {}: YAML: {e}", first_line + loc.line() - 1);
        }
        msg
    })?;
    if value.get("correlation").is_some() {
        return crate::correlation::parse(file, doc, first_line)
            .map(|c| Parsed::Correlation(Box::new(c)));
    }
    if value.get("new_terms").is_some() {
        let (sigma, terms) = crate::new_terms::split(doc, first_line)?;
        let mut rule = parse_rule(file, &sigma)?;
        if rule.aggregation.is_some() {
            return Err(field_error(
                doc,
                first_line,
                "condition",
                "a new-terms rule's condition cannot aggregate",
            ));
        }
        for f in &terms.fields {
            rule.fields.insert(f.clone());
        }
        rule.new_terms = Some(terms);
        return Ok(Parsed::Rule(Box::new(rule)));
    }
    parse_rule(file, doc).map(|r| Parsed::Rule(Box::new(r)))
}

/// True when `n` names the rule: its id, or its file name with or without the extension.
fn named(id: &str, file: &str, n: &str) -> bool {
    let file = std::path::Path::new(file);
    id == n || file.file_name().is_some_and(|f| f == n) || file.file_stem().is_some_and(|f| f == n)
}

/// Parses and checks one rule file. `file` only names it in messages.
pub fn parse_rule(file: &str, text: &str) -> Result<Rule, String> {
    let mut doc: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| format!("YAML: {e}"))?;
    let map = doc
        .as_mapping()
        .ok_or("not a Sigma rule: the document is not a YAML mapping")?;
    if map.contains_key("filter") && !map.contains_key("detection") {
        return Err("filter rules are not supported (detection rules only)".to_owned());
    }
    let timeframe = map
        .get("timeframe")
        .or_else(|| map.get("detection").and_then(|d| d.get("timeframe")))
        .and_then(|v| v.as_str())
        .map(str::to_owned);

    // The legacy aggregation (`cond | count() ...`) is cut off here; rsigma compiles the rest.
    let mut aggregation = None;
    let mut rewritten = None;
    if let Some(cond) = doc
        .get_mut("detection")
        .and_then(|d| d.get_mut("condition"))
    {
        match cond {
            yaml_serde::Value::String(s) if s.contains('|') => {
                let (base, agg) = s.split_once('|').expect("contains |");
                aggregation = Some(Aggregation::parse(agg, timeframe.as_deref())?);
                *s = base.trim().to_owned();
                rewritten = Some(());
            }
            yaml_serde::Value::Sequence(items)
                if items
                    .iter()
                    .any(|c| c.as_str().is_some_and(|c| c.contains('|'))) =>
            {
                return Err("an aggregation in a list of conditions is not supported".to_owned());
            }
            _ => {}
        }
    }
    let text = match rewritten {
        Some(()) => yaml_serde::to_string(&doc).map_err(|e| format!("YAML: {e}"))?,
        None => text.to_owned(),
    };

    let collection = rsigma_parser::parse_sigma_yaml(&text).map_err(|e| e.to_string())?;
    if !collection.errors.is_empty() {
        return Err(collection.errors.join("; "));
    }
    if !collection.correlations.is_empty() || !collection.filters.is_empty() {
        return Err("correlation and filter rules are not supported".to_owned());
    }
    let [sigma] = <[rsigma_parser::SigmaRule; 1]>::try_from(collection.rules)
        .map_err(|v| format!("expected one detection rule, found {}", v.len()))?;

    let id = sigma
        .id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or("no id: every rule needs a unique id (alert ids are made from it)")?;
    let level = sigma
        .level
        .map(Level::from)
        .ok_or("no level: one of informational, low, medium, high, critical is required")?;
    let ls = &sigma.logsource;
    let is =
        |v: &Option<String>, want: &str| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(want));
    if !is(&ls.product, "aws") || !is(&ls.service, "cloudtrail") {
        return Err(format!(
            "logsource is not product: aws, service: cloudtrail (product: {}, service: {})",
            ls.product.as_deref().unwrap_or("-"),
            ls.service.as_deref().unwrap_or("-")
        ));
    }
    if sigma.detection.conditions.is_empty() {
        return Err("no condition".to_owned());
    }
    rsigma_eval::compile_rule(&sigma).map_err(|e| e.to_string())?;

    let mut fields = BTreeSet::new();
    for det in sigma.detection.named.values() {
        collect_fields(det, "", &mut fields);
    }
    if let Some(a) = &aggregation {
        fields.extend(a.fields().map(str::to_owned));
    }
    Ok(Rule {
        file: file.to_owned(),
        id,
        title: sigma.title.clone(),
        level,
        status: sigma.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        author: sigma.author.clone().unwrap_or_default(),
        description: sigma.description.clone().unwrap_or_default(),
        references: sigma.references.clone(),
        tags: sigma.tags.clone(),
        falsepositives: sigma.falsepositives.clone(),
        name: sigma.name.clone(),
        aggregation,
        new_terms: None,
        fields,
        sigma,
    })
}

/// The field paths a detection reads, including `fieldref` targets.
fn collect_fields(det: &rsigma_parser::Detection, prefix: &str, out: &mut BTreeSet<String>) {
    use rsigma_parser::{Detection, Modifier, SigmaValue};
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match det {
        Detection::AllOf(items) => {
            for item in items {
                if let Some(name) = &item.field.name {
                    out.insert(join(name));
                }
                if item.field.has_modifier(Modifier::FieldRef) {
                    for v in &item.values {
                        if let SigmaValue::String(s) = v {
                            out.insert(s.original.clone());
                        }
                    }
                }
            }
        }
        Detection::AnyOf(ds) | Detection::And(ds) => {
            for d in ds {
                collect_fields(d, prefix, out);
            }
        }
        Detection::Keywords(_) => {}
        Detection::ArrayMatch { field, body, .. } => {
            out.insert(join(field));
            let _ = body;
        }
        Detection::Conditional { named, .. } => {
            for d in named.values() {
                collect_fields(d, prefix, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: medium\n";

    fn rule(detection: &str) -> Result<Rule, String> {
        parse_rule("t.yml", &format!("{HEAD}detection:\n{detection}"))
    }

    #[test]
    fn every_shipped_rule_loads() {
        let set = RuleSet::load(true, &[]);
        assert!(set.errors.is_empty(), "{:#?}", set.errors);
        // Every document of every shipped file loads, as a detection or a correlation rule.
        let documents: usize = BUILTIN.iter().map(|(_, t)| documents(t).len()).sum();
        assert_eq!(set.rules.len() + set.correlations.len(), documents);
        assert!(set.rules.len() >= 80, "{}", set.rules.len());
        assert!(set.rules.iter().all(|r| !r.author.is_empty()));
    }

    #[test]
    fn broken_rules_are_refused_with_a_reason() {
        let e = parse_rule("t.yml", "title: [unclosed\n").unwrap_err();
        assert!(e.starts_with("YAML:"), "{e}");
        let e = rule("  s:\n    a|bogus: x\n  condition: s").unwrap_err();
        assert!(e.contains("Unknown modifier 'bogus'"), "{e}");
        let e = rule("  s:\n    a: x\n  condition: s and missing").unwrap_err();
        assert!(e.contains("missing"), "{e}");
        let e = parse_rule(
            "t.yml",
            "title: t\nid: x\nlogsource:\n  product: windows\nlevel: low\ndetection:\n  s:\n    a: x\n  condition: s\n",
        )
        .unwrap_err();
        assert!(e.contains("logsource"), "{e}");
        let e = parse_rule(
            "t.yml",
            "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: low\ndetection:\n  s:\n    a: x\n  condition: s\n",
        )
        .unwrap_err();
        assert!(e.starts_with("no id"), "{e}");
        let e = rule("  s:\n    a: x\n  condition: s | sum(x) > 1").unwrap_err();
        assert!(e.contains("count()"), "{e}");
    }

    #[test]
    fn fields_include_fieldref_targets_and_aggregation_fields() {
        let r = rule("  s:\n    userIdentity.arn|fieldref: requestParameters.userName\n    eventName: X\n  condition: s | count(userAgent) by sourceIPAddress > 1").unwrap();
        let f: Vec<&str> = r.fields.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            f,
            [
                "eventName",
                "requestParameters.userName",
                "sourceIPAddress",
                "userAgent",
                "userIdentity.arn"
            ]
        );
        assert_eq!(
            r.alert_rule_id(),
            "sigma-11111111-1111-1111-1111-111111111111"
        );
    }

    #[test]
    fn duplicate_ids_and_missing_folders_are_errors() {
        let mut set = RuleSet::default();
        let text = format!("{HEAD}detection:\n  s:\n    a: x\n  condition: s\n");
        set.add("a.yml", &text);
        set.add("b.yml", &text);
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.errors.len(), 1);
        assert!(
            set.errors[0]
                .to_string()
                .starts_with("b.yml: duplicate rule id")
        );
        set.add_folder(Path::new("/no/such/folder"));
        assert_eq!(set.errors[1].reason, "not a folder");
    }

    #[test]
    fn techniques_come_from_attack_tags() {
        let set = RuleSet::load(true, &[]);
        let r = set
            .rules
            .iter()
            .find(|r| r.id == "8ad1600d-e9dc-4251-b0ee-a65268f29add")
            .unwrap();
        assert_eq!(r.techniques(), ["T1078.004"]);
    }
}
