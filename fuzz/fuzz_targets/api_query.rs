//! Fuzz target for the HTTP API's query parsing: a query string as `serde_urlencoded` (axum's
//! `Query`) reads it into the alert list's parameters, then the store filter built from them.
//! Whatever the text, the result is a filter or a 400 message; a filter keeps to the documented
//! bounds (limit 0 to 500, offset below 10^15), and a value the documented pattern refuses is
//! never accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailhound_web::api::ListQuery;
use trailhound_web::params;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = serde_urlencoded::from_str::<ListQuery>(text) else {
        return;
    };
    match q.filter() {
        Ok(f) => {
            assert!(f.limit.is_some_and(|l| l <= 500));
            assert!(f.offset < 1_000_000_000_000_000);
            let ok = |v: &Option<String>, p| {
                v.as_deref()
                    .is_none_or(|v| regex::Regex::new(p).unwrap().is_match(v))
            };
            assert!(ok(&q.limit, params::LIMIT), "{text}");
            assert!(ok(&q.offset, params::OFFSET), "{text}");
            assert!(ok(&q.severity, params::SEVERITY), "{text}");
            assert!(ok(&q.status, params::STATUS), "{text}");
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{text}"),
    }
});
