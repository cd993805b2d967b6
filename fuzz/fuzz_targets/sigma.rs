//! Fuzz target for the Sigma rule loader: `trailhound_sigma::load::parse_rule` (YAML, then the
//! Sigma model) and a rule set built from the file. The rules that load must compile into the
//! engine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailhound_sigma::RuleSet;
use trailhound_sigma::load::parse_rule;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rule) = parse_rule("fuzz.yml", text) {
        let _ = rule.alert_rule_id();
        let _ = rule.techniques();
    }
    let mut set = RuleSet::default();
    set.add("fuzz.yml", text);
    let engine = trailhound_sigma::SigmaEngine::new(set.rules);
    let _ = engine.extra_fields();
});
