//! Offline GeoIP: the country of a CloudTrail `sourceIPAddress`.
//!
//! The default database is DB-IP "IP to Country Lite" (CC BY 4.0, <https://db-ip.com>), embedded
//! in the binary so that enrichment works with nothing installed. Any MaxMind-format `.mmdb` with
//! either a top-level `country_code` (DB-IP, ip-location-db) or `country.iso_code`
//! (GeoLite2-Country/City) can be used instead.
//!
//! As in Kusto's `geo_info_from_ip_address`, anything that is not a single public IP address has
//! no country: private and reserved ranges, AWS service names (`ec2.amazonaws.com`,
//! `AWS Internal`), other host names, comma-separated lists and garbage.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use maxminddb::{PathElement, Reader};
use trailhound_model::{Country, SECOND, Str, format_rfc3339};

/// The embedded DB-IP IP-to-Country Lite database.
static EMBEDDED_DB: &[u8] = include_bytes!("../../../assets/geoip/dbip-country.mmdb");

/// Attribution the DB-IP licence asks for, shown wherever results are displayed.
pub const EMBEDDED_ATTRIBUTION: &str = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

/// Errors opening a GeoIP database.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read or is not a MaxMind database.
    #[error("cannot open GeoIP database {path}: {source}")]
    Open {
        /// The path given.
        path: String,
        /// What the reader said.
        source: maxminddb::MaxMindDbError,
    },
}

/// What a `sourceIPAddress` value is, for enrichment and for the run's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKind {
    /// A public IPv4 address.
    PublicV4,
    /// A public IPv6 address.
    PublicV6,
    /// A private, loopback, link-local, shared, documentation or otherwise reserved address.
    Reserved,
    /// An AWS service principal name (`*.amazonaws.com`, `AWS Internal`).
    AwsService,
    /// Several addresses separated by commas (e.g. a proxy chain).
    List,
    /// Anything else that is not empty: other host names, garbage.
    Other,
    /// No value.
    Empty,
}

impl AddressKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [AddressKind; 7] = [
        Self::PublicV4,
        Self::PublicV6,
        Self::Reserved,
        Self::AwsService,
        Self::List,
        Self::Other,
        Self::Empty,
    ];

    /// A short, stable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicV4 => "public_ipv4",
            Self::PublicV6 => "public_ipv6",
            Self::Reserved => "private_or_reserved",
            Self::AwsService => "aws_service",
            Self::List => "address_list",
            Self::Other => "not_an_address",
            Self::Empty => "empty",
        }
    }
}

/// Classifies a `sourceIPAddress` value; returns the parsed address when it is a public one.
pub fn classify(source_ip: &str) -> (AddressKind, Option<IpAddr>) {
    let s = source_ip.trim();
    if s.is_empty() {
        return (AddressKind::Empty, None);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return if is_public(ip) {
            let kind = if ip.is_ipv4() {
                AddressKind::PublicV4
            } else {
                AddressKind::PublicV6
            };
            (kind, Some(ip))
        } else {
            (AddressKind::Reserved, None)
        };
    }
    if s.contains(',') {
        (AddressKind::List, None)
    } else if s.ends_with(".amazonaws.com") || s == "AWS Internal" {
        (AddressKind::AwsService, None)
    } else {
        (AddressKind::Other, None)
    }
}

/// True for addresses routed on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfe80 // link local
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
}

/// An opened IP-to-country database.
pub struct GeoIp {
    reader: Reader<Cow<'static, [u8]>>,
    description: String,
}

impl GeoIp {
    /// The embedded DB-IP database.
    pub fn embedded() -> Self {
        let reader = Reader::from_source(Cow::Borrowed(EMBEDDED_DB))
            .expect("the embedded GeoIP database is a valid MaxMind database");
        let description = format!("embedded {} ({EMBEDDED_ATTRIBUTION})", describe(&reader));
        Self {
            reader,
            description,
        }
    }

    /// Opens a `.mmdb` file (GeoLite2-Country/City, DB-IP, ip-location-db).
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|e| GeoError::Open {
            path: path.display().to_string(),
            source: maxminddb::MaxMindDbError::Io(e),
        })?;
        let reader = Reader::from_source(Cow::Owned(bytes)).map_err(|source| GeoError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let description = format!("{} ({})", path.display(), describe(&reader));
        Ok(Self {
            reader,
            description,
        })
    }

    /// The database's type and build date, for the run summary.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The country of a `sourceIPAddress` value, or `None` (see the crate docs).
    pub fn country(&self, source_ip: &str) -> Option<Country> {
        match classify(source_ip) {
            (_, Some(ip)) => self.lookup(ip),
            _ => None,
        }
    }

    /// The country of a public address, or `None` when the database has no record for it.
    pub fn lookup(&self, ip: IpAddr) -> Option<Country> {
        let found = self.reader.lookup(ip).ok()?;
        let code: Option<&str> = found
            .decode_path(&[PathElement::Key("country_code")])
            .ok()
            .flatten()
            .or_else(|| {
                found
                    .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
                    .ok()
                    .flatten()
            });
        // DB-IP marks unassigned space "ZZ": no country.
        code.and_then(Country::new).filter(|c| c.as_str() != "ZZ")
    }
}

fn describe(reader: &Reader<Cow<'static, [u8]>>) -> String {
    let m = &reader.metadata;
    let built = format_rfc3339(m.build_epoch as i64 * SECOND);
    format!("{}, built {}", m.database_type, &built[..10])
}

/// Distinct addresses a [`GeoCache`] remembers before it starts afresh: a trail with millions of
/// distinct addresses (a scan, a botnet, years of mobile users) would otherwise grow it without
/// bound, once per decoding thread.
pub const MEMO_LIMIT: usize = 1 << 16;

/// A per-run memo of country lookups keyed by the raw `sourceIPAddress` string.
///
/// CloudTrail repeats a small set of addresses millions of times; a hash lookup is several times
/// cheaper than a tree walk in the database.
pub struct GeoCache<G: std::borrow::Borrow<GeoIp>> {
    geo: G,
    memo: HashMap<Str, (AddressKind, Option<Country>)>,
}

impl<G: std::borrow::Borrow<GeoIp>> GeoCache<G> {
    /// An empty cache over `geo` (borrowed, or shared as an `Arc` by the decoding threads).
    pub fn new(geo: G) -> Self {
        Self {
            geo,
            memo: HashMap::new(),
        }
    }

    /// The kind and country of a `sourceIPAddress` value.
    pub fn resolve(&mut self, source_ip: &Str) -> (AddressKind, Option<Country>) {
        if let Some(hit) = self.memo.get(source_ip) {
            return *hit;
        }
        let (kind, ip) = classify(source_ip);
        let result = (kind, ip.and_then(|ip| self.geo.borrow().lookup(ip)));
        if self.memo.len() >= MEMO_LIMIT {
            // Memory bounded on inputs of any size: the hot addresses come back at once.
            self.memo.clear();
        }
        self.memo.insert(source_ip.clone(), result);
        result
    }

    /// Number of distinct values seen.
    pub fn len(&self) -> usize {
        self.memo.len()
    }

    /// True before the first lookup.
    pub fn is_empty(&self) -> bool {
        self.memo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, k) in AddressKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn classifies_source_addresses() {
        assert_eq!(classify("8.8.8.8").0, AddressKind::PublicV4);
        assert_eq!(
            classify("2a03:2880:f12c:83:face:b00c::25de").0,
            AddressKind::PublicV6
        );
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "fe80::1",
            "fd00::1",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "240.0.0.1",
        ] {
            assert_eq!(classify(private).0, AddressKind::Reserved, "{private}");
        }
        assert_eq!(classify("ec2.amazonaws.com").0, AddressKind::AwsService);
        assert_eq!(classify("AWS Internal").0, AddressKind::AwsService);
        assert_eq!(classify("1.2.3.4, 5.6.7.8").0, AddressKind::List);
        assert_eq!(classify("example.com").0, AddressKind::Other);
        assert_eq!(classify("999.1.1.1").0, AddressKind::Other);
        assert_eq!(classify("").0, AddressKind::Empty);
    }

    #[test]
    fn embedded_database_resolves_countries() {
        let geo = GeoIp::embedded();
        // Stable, well-known allocations.
        assert_eq!(
            geo.country("8.8.8.8").map(|c| c.to_string()).as_deref(),
            Some("US")
        );
        assert_eq!(
            geo.country("2a03:2880:f12c:83:face:b00c::25de")
                .map(|c| c.to_string())
                .as_deref(),
            Some("US")
        );
        assert_eq!(geo.country("10.0.0.1"), None);
        assert_eq!(geo.country("ec2.amazonaws.com"), None);
        assert_eq!(geo.country("1.2.3.4, 8.8.8.8"), None);
        assert!(geo.description().contains("DB-IP"), "{}", geo.description());
    }

    #[test]
    fn cache_matches_direct_lookup() {
        let geo = GeoIp::embedded();
        let mut cache = GeoCache::new(&geo);
        let ip = Str::from("8.8.8.8");
        assert_eq!(cache.resolve(&ip).1, geo.country("8.8.8.8"));
        assert_eq!(cache.resolve(&ip).1, geo.country("8.8.8.8"));
        assert_eq!(cache.len(), 1);
    }
}
