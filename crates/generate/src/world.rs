//! The synthetic organisation: accounts, IAM users with their AKIA keys, roles, console users and
//! AWS service principals, each with fixed source addresses, user agent, regions and habits.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand_chacha::ChaCha8Rng;
use trailhound_geo::GeoIp;

use crate::catalog::{self, Profile, REGIONS, api_index, is_critical, region_index};
use crate::rng::{self, Draw, KEY_ALPHABET, domain};

/// One AWS account.
pub(crate) struct Account {
    pub id: String,
    pub alias: String,
    /// Regions with integer weights, cumulative.
    pub regions: Vec<u8>,
    pub region_cum: Vec<u64>,
    pub buckets: Vec<String>,
    /// IAM user names in the account (for `$UNAME`).
    pub users: Vec<String>,
    pub kms_keys: Vec<String>,
    /// Salt for the account's stable resource ids (instances, VPCs, ...).
    pub salt: u64,
    pub vpce: String,
}

/// How an assumed role gets its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleFlavor {
    Instance,
    Lambda,
    WebIdentity,
    Sso,
    ServiceLinked,
}

/// Who an actor is.
pub(crate) enum Ident {
    /// An IAM user calling with its long-term `AKIA` key.
    UserKey {
        user: String,
        principal: String,
        key: String,
    },
    /// An IAM user in the console: `ASIA` session keys, plus `ConsoleLogin`.
    ConsoleUser { user: String, principal: String },
    /// An assumed role with rotating `ASIA` session keys.
    Role {
        role: String,
        role_id: String,
        sessions: Vec<String>,
        flavor: RoleFlavor,
    },
    /// An AWS service principal (`invokedBy`).
    Service { host: &'static str },
}

/// What an AKIA key is there for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUse {
    Background,
    Scenario,
    Decoy,
    /// Not an AKIA key.
    None,
}

/// A caller: identity plus fixed habits.
pub(crate) struct Actor {
    pub label: String,
    pub account: u8,
    pub ident: Ident,
    /// Indices into [`World::addrs`].
    pub addrs: Vec<u16>,
    /// Index into [`World::agents`].
    pub agent: u16,
    pub apis: Vec<u16>,
    pub api_cum: Vec<u64>,
    pub regions: Vec<u8>,
    pub region_cum: Vec<u64>,
    /// Offset of local time from UTC, hours.
    pub tz: i64,
    /// Office hours (true) or around the clock.
    pub human: bool,
    pub rate: u64,
    /// Chance of a non-authorization error (per million calls).
    pub err_ppm: u32,
    /// Chance of an access-denied error (per million calls); always 0 for AKIA keys.
    pub denied_ppm: u32,
    /// Daily successful call from each address, for AKIA keys: (operation, local hour).
    pub heartbeat: Option<(u16, i64)>,
    pub home_country: Option<String>,
    pub key_use: KeyUse,
    pub archetype: &'static str,
}

impl Actor {
    /// `userIdentity.arn` for identities that have a stable one.
    pub(crate) fn arn(&self, account: &str) -> String {
        match &self.ident {
            Ident::UserKey { user, .. } | Ident::ConsoleUser { user, .. } => {
                format!("arn:aws:iam::{account}:user/{user}")
            }
            Ident::Role { role, .. } => format!("arn:aws:iam::{account}:role/{role}"),
            Ident::Service { host } => (*host).to_owned(),
        }
    }

    /// The AKIA key id, for IAM user keys.
    pub(crate) fn access_key(&self) -> Option<&str> {
        match &self.ident {
            Ident::UserKey { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn user_name(&self) -> &str {
        match &self.ident {
            Ident::UserKey { user, .. } | Ident::ConsoleUser { user, .. } => user,
            Ident::Role { role, .. } => role,
            Ident::Service { host } => host,
        }
    }
}

/// What a `sourceIPAddress` value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrKind {
    Public,
    Private,
    Service,
}

/// Everything the records are made from.
pub(crate) struct World {
    pub seed: u64,
    pub accounts: Vec<Account>,
    pub actors: Vec<Actor>,
    /// `sourceIPAddress` values.
    pub addrs: Vec<String>,
    /// Country of each address (public ones only).
    pub addr_country: Vec<Option<String>>,
    /// Kind of each address.
    pub addr_kind: Vec<AddrKind>,
    pub agents: Vec<String>,
    /// Request details of planted events ([`Ev::details`](crate::render::Ev)).
    pub details: Vec<Details>,
    addr_index: HashMap<String, u16>,
}

/// What a planted event says instead of its operation's templates (each part is a template
/// with the same `$NAME` placeholders; `None` keeps the operation's own).
#[derive(Debug, Clone, Default)]
pub(crate) struct Details {
    /// `requestParameters`.
    pub request: Option<String>,
    /// `responseElements` (written on success only).
    pub response: Option<String>,
    /// `additionalEventData`.
    pub additional: Option<String>,
}

impl World {
    pub(crate) fn addr(&mut self, value: String, country: Option<String>) -> u16 {
        if let Some(&i) = self.addr_index.get(&value) {
            return i;
        }
        self.addr_index
            .insert(value.clone(), self.addrs.len() as u16);
        let kind = match value.parse::<IpAddr>() {
            Ok(ip) if trailhound_geo::is_public(ip) => AddrKind::Public,
            Ok(_) => AddrKind::Private,
            Err(_) => AddrKind::Service,
        };
        self.addrs.push(value);
        self.addr_country.push(country);
        self.addr_kind.push(kind);
        (self.addrs.len() - 1) as u16
    }

    pub(crate) fn agent(&mut self, value: &str) -> u16 {
        if let Some(i) = self.agents.iter().position(|a| a == value) {
            return i as u16;
        }
        self.agents.push(value.to_owned());
        (self.agents.len() - 1) as u16
    }
}

/// Deterministic search for public addresses of a wanted country in the GeoIP database.
pub(crate) struct IpFinder<'g> {
    geo: &'g GeoIp,
    rng: ChaCha8Rng,
    used: HashSet<IpAddr>,
}

/// Legacy /8 blocks of the US military and of single companies: real in the database but
/// unusual as client addresses, so never chosen.
const LEGACY_V4_BLOCKS: &[u8] = &[
    6, 7, 11, 15, 16, 17, 19, 21, 22, 25, 26, 28, 29, 30, 33, 48, 53, 55, 56, 57, 214, 215,
];

/// IPv6 /16 prefixes where the embedded database has many addresses of a country.
const V6_PREFIXES: &[(&str, &[u16])] = &[
    ("US", &[0x2600, 0x2601, 0x2603, 0x2607]),
    ("DE", &[0x2003]),
    ("GB", &[0x2a00]),
    ("JP", &[0x2400]),
    ("FR", &[0x2a01]),
    ("BR", &[0x2804]),
    ("IN", &[0x2409]),
];

impl<'g> IpFinder<'g> {
    pub(crate) fn new(geo: &'g GeoIp, seed: u64) -> Self {
        Self {
            geo,
            rng: rng::stream(seed, domain::IPS, 0),
            used: HashSet::new(),
        }
    }

    /// A fresh public IPv4 address in `country`.
    pub(crate) fn v4(&mut self, country: &str) -> io::Result<IpAddr> {
        for _ in 0..20_000_000u32 {
            let raw = self.rng.bits() as u32;
            // Avoid network and broadcast-looking last octets.
            let last = 1 + (raw & 0xff) % 253;
            let ip = IpAddr::V4(Ipv4Addr::from((raw & 0xffff_ff00) | last));
            if !LEGACY_V4_BLOCKS.contains(&((raw >> 24) as u8)) && self.accept(ip, country) {
                return Ok(ip);
            }
        }
        Err(not_found(country))
    }

    /// A fresh public IPv6 address in `country`, when the country has a known prefix.
    pub(crate) fn v6(&mut self, country: &str) -> Option<IpAddr> {
        let prefixes = V6_PREFIXES.iter().find(|(c, _)| *c == country)?.1;
        for _ in 0..2_000_000u32 {
            let p = u128::from(*self.rng.pick(prefixes));
            let low = (u128::from(self.rng.bits()) << 64 | u128::from(self.rng.bits())) >> 16;
            let ip = IpAddr::V6(Ipv6Addr::from(p << 112 | low));
            if self.accept(ip, country) {
                return Some(ip);
            }
        }
        None
    }

    fn accept(&mut self, ip: IpAddr, country: &str) -> bool {
        trailhound_geo::is_public(ip)
            && !self.used.contains(&ip)
            && self.geo.lookup(ip).is_some_and(|c| c.as_str() == country)
            && self.used.insert(ip)
    }

    /// A private VPC address (no country).
    pub(crate) fn private(&mut self) -> IpAddr {
        loop {
            let r = self.rng.bits();
            let ip = IpAddr::V4(Ipv4Addr::new(
                10,
                (r & 0x0f) as u8,
                (r >> 8) as u8,
                1 + ((r >> 16) as u8) % 250,
            ));
            if self.used.insert(ip) {
                return ip;
            }
        }
    }
}

fn not_found(country: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the GeoIP database has no IPv4 addresses for country {country}"),
    )
}

/// Cumulative weights.
pub(crate) fn cumulative(weights: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut acc = 0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// A caller's habits before it has an identity.
#[derive(Clone, Copy)]
pub(crate) struct Archetype {
    pub name: &'static str,
    pub profile: Profile,
    pub agents: &'static [&'static str],
    pub human: bool,
    pub rate: u64,
    pub service_user: bool,
    pub max_ips: u64,
    pub all_regions: bool,
}

pub(crate) const DEVELOPER: Archetype = Archetype {
    name: "developer",
    profile: catalog::DEVELOPER,
    agents: catalog::CLI_AGENTS,
    human: true,
    rate: 6,
    service_user: false,
    max_ips: 3,
    all_regions: false,
};

pub(crate) const TERRAFORM: Archetype = Archetype {
    name: "terraform",
    profile: catalog::TERRAFORM,
    agents: catalog::TERRAFORM_AGENTS,
    human: true,
    rate: 5,
    service_user: false,
    max_ips: 2,
    all_regions: false,
};

pub(crate) const BACKUP: Archetype = Archetype {
    name: "backup",
    profile: catalog::BACKUP,
    agents: catalog::SDK_AGENTS,
    human: false,
    rate: 3,
    service_user: true,
    max_ips: 1,
    all_regions: false,
};

pub(crate) const IAM_ADMIN: Archetype = Archetype {
    name: "iam-admin",
    profile: catalog::IAM_ADMIN,
    agents: catalog::CLI_AGENTS,
    human: true,
    rate: 3,
    service_user: false,
    max_ips: 2,
    all_regions: false,
};

const ARCHETYPES: [Archetype; 8] = [
    DEVELOPER,
    TERRAFORM,
    Archetype {
        name: "application",
        profile: catalog::APPLICATION,
        agents: catalog::SDK_AGENTS,
        human: false,
        rate: 8,
        service_user: true,
        max_ips: 2,
        all_regions: false,
    },
    DEVELOPER,
    BACKUP,
    Archetype {
        name: "inventory",
        profile: catalog::INVENTORY,
        agents: catalog::SDK_AGENTS,
        human: false,
        rate: 3,
        service_user: true,
        max_ips: 1,
        all_regions: true,
    },
    IAM_ADMIN,
    Archetype {
        name: "monitoring",
        profile: catalog::MONITORING,
        agents: catalog::SDK_AGENTS,
        human: false,
        rate: 4,
        service_user: true,
        max_ips: 2,
        all_regions: false,
    },
];

/// Home countries of people, with weights, and their UTC offsets.
const HOMES: [(&str, u64, i64); 8] = [
    ("US", 5, -5),
    ("DE", 2, 1),
    ("GB", 2, 0),
    ("JP", 1, 9),
    ("FR", 1, 1),
    ("BR", 1, -3),
    ("IN", 1, 5),
    ("CA", 1, -5),
];

/// UTC offset used for a home country.
pub(crate) fn tz_of(country: &str) -> i64 {
    HOMES.iter().find(|h| h.0 == country).map_or(0, |h| h.2)
}

/// Builder state shared by the background and the scenario planner.
pub(crate) struct Builder<'g> {
    pub world: World,
    pub rng: ChaCha8Rng,
    pub ips: IpFinder<'g>,
    pub names: HashSet<String>,
    /// Weight multiplier of roles, services and console users: the number of background keys,
    /// clamped to 4..=48.
    pub other_scale: u64,
}

impl<'g> Builder<'g> {
    pub(crate) fn new(seed: u64, geo: &'g GeoIp) -> Self {
        Self {
            world: World {
                seed,
                accounts: Vec::new(),
                actors: Vec::new(),
                addrs: Vec::new(),
                addr_country: Vec::new(),
                addr_kind: Vec::new(),
                agents: Vec::new(),
                details: Vec::new(),
                addr_index: HashMap::new(),
            },
            rng: rng::stream(seed, domain::WORLD, 0),
            ips: IpFinder::new(geo, seed),
            names: HashSet::new(),
            other_scale: 12,
        }
    }

    /// A fresh `first.last` user name.
    pub(crate) fn person(&mut self) -> String {
        loop {
            let name = format!(
                "{}.{}",
                self.rng.pick(catalog::FIRST_NAMES),
                self.rng.pick(catalog::LAST_NAMES)
            );
            if self.names.insert(name.clone()) {
                return name;
            }
        }
    }

    fn service_user(&mut self) -> String {
        let base = *self.rng.pick(catalog::SERVICE_USERS);
        let mut name = base.to_owned();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
    }

    /// A public IPv4 address of `country`, registered as a source address.
    pub(crate) fn public_addr(&mut self, country: &str) -> io::Result<u16> {
        let ip = self.ips.v4(country)?;
        Ok(self.world.addr(ip.to_string(), Some(country.to_owned())))
    }

    fn accounts(&mut self) {
        let company = *self.rng.pick(catalog::COMPANIES);
        let layouts: [(&str, &[(&str, u64)]); 2] = [
            (
                "prod",
                &[
                    ("us-east-1", 60),
                    ("eu-west-1", 20),
                    ("us-west-2", 12),
                    ("ap-northeast-1", 8),
                ],
            ),
            ("dev", &[("us-east-2", 70), ("eu-central-1", 30)]),
        ];
        for (env, regions) in layouts {
            let id = format!("{:012}", 100_000_000_000 + self.rng.below(899_999_999_999));
            let mut buckets = Vec::new();
            for purpose in catalog::BUCKET_PURPOSES {
                let suffix = rng::chars(&mut self.rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 6);
                buckets.push(format!("{company}-{env}-{purpose}-{suffix}"));
            }
            let mut kms_keys = Vec::new();
            for _ in 0..4 {
                kms_keys.push(rng::uuid_string(&mut rng::Mix(self.rng.bits())));
            }
            let salt = self.rng.bits();
            let vpce = format!(
                "vpce-0{}",
                rng::hex_string(&mut rng::Mix(salt ^ 0x5eed), 16)
            );
            self.world.accounts.push(Account {
                id,
                alias: format!("{company}-{env}"),
                regions: regions.iter().map(|r| region_index(r.0)).collect(),
                region_cum: cumulative(regions.iter().map(|r| r.1)),
                buckets,
                users: Vec::new(),
                kms_keys,
                salt,
                vpce,
            });
        }
    }

    /// Adds an IAM user with an AKIA key following `arch`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_key(
        &mut self,
        arch: Archetype,
        account: u8,
        home: &str,
        n_ips: u64,
        v6: bool,
        key_use: KeyUse,
        label: String,
        no_critical: bool,
    ) -> io::Result<usize> {
        let user = if arch.service_user {
            self.service_user()
        } else {
            self.person()
        };
        let key = format!("AKIA{}", rng::chars(&mut self.rng, KEY_ALPHABET, 16));
        let principal = format!("AIDA{}", rng::chars(&mut self.rng, KEY_ALPHABET, 17));
        let mut addrs = Vec::new();
        for _ in 0..n_ips.max(1) {
            addrs.push(self.public_addr(home)?);
        }
        if v6 && let Some(ip) = self.ips.v6(home) {
            addrs.push(self.world.addr(ip.to_string(), Some(home.to_owned())));
        }
        let agent_str = *self.rng.pick(arch.agents);
        let agent = self.world.agent(agent_str);
        let ops: Vec<(u16, u64)> = arch
            .profile
            .iter()
            .filter(|(name, _)| !(no_critical && is_critical(name)))
            .map(|(name, w)| (api_index(name), u64::from(*w)))
            .collect();
        let heartbeat_op = arch
            .profile
            .iter()
            .map(|(name, _)| api_index(name))
            .find(|&i| {
                let a = &catalog::APIS[i as usize];
                a.read_only
                    && !is_critical(a.name)
                    && !matches!(a.kind, catalog::Kind::S3Object | catalog::Kind::S3Bucket)
            })
            .unwrap_or_else(|| api_index("GetCallerIdentity"));
        let (regions, region_cum) = if arch.all_regions {
            (
                (0..REGIONS.len() as u8).collect(),
                cumulative(REGIONS.iter().map(|_| 1)),
            )
        } else {
            let a = &self.world.accounts[account as usize];
            (a.regions.clone(), a.region_cum.clone())
        };
        let human_hour = if arch.human { 10 } else { 3 };
        self.world.accounts[account as usize]
            .users
            .push(user.clone());
        self.world.actors.push(Actor {
            label,
            account,
            ident: Ident::UserKey {
                user,
                principal,
                key,
            },
            addrs,
            agent,
            api_cum: cumulative(ops.iter().map(|o| o.1)),
            apis: ops.iter().map(|o| o.0).collect(),
            regions,
            region_cum,
            tz: tz_of(home),
            human: arch.human,
            // Background keys weigh 12 each against roles and services scaled by the key count
            // (see `other_scale`), so the AKIA share stays similar for any number of keys.
            rate: arch.rate * 12,
            err_ppm: 20_000,
            denied_ppm: 0,
            heartbeat: Some((heartbeat_op, human_hour)),
            home_country: Some(home.to_owned()),
            key_use,
            archetype: arch.name,
        });
        Ok(self.world.actors.len() - 1)
    }

    /// An actor for the temporary key `key` that the IAM user key of actor `user` minted
    /// (`GetSessionToken`): the same user, habits and account, no background activity of its
    /// own (only planted events).
    pub(crate) fn add_session_of(&mut self, user: usize, key: String) -> usize {
        let a = &self.world.actors[user];
        let ident = match &a.ident {
            Ident::UserKey {
                user, principal, ..
            } => Ident::UserKey {
                user: user.clone(),
                principal: principal.clone(),
                key,
            },
            _ => panic!("sessions are minted by IAM user keys"),
        };
        let session = Actor {
            label: format!("{} session", a.label),
            account: a.account,
            ident,
            addrs: a.addrs.clone(),
            agent: a.agent,
            apis: a.apis.clone(),
            api_cum: a.api_cum.clone(),
            regions: a.regions.clone(),
            region_cum: a.region_cum.clone(),
            tz: a.tz,
            human: a.human,
            rate: 0,
            err_ppm: 0,
            denied_ppm: 0,
            heartbeat: None,
            home_country: a.home_country.clone(),
            key_use: KeyUse::Scenario,
            archetype: a.archetype,
        };
        self.world.actors.push(session);
        self.world.actors.len() - 1
    }

    fn pick_home(&mut self) -> &'static str {
        let cum = cumulative(HOMES.iter().map(|h| h.1));
        HOMES[self.rng.weighted(&cum)].0
    }

    fn background_keys(&mut self, keys: u32) -> io::Result<()> {
        // A seed-dependent rotation of the archetypes, so small key counts still mix them.
        let offset = self.rng.below(ARCHETYPES.len() as u64) as usize;
        for i in 0..keys as usize {
            let arch = ARCHETYPES[(i + offset) % ARCHETYPES.len()];
            let home = if arch.human {
                self.pick_home()
            } else if self.rng.chance(750_000) {
                "US"
            } else {
                "DE"
            };
            let account = u8::from(i % 4 == 3);
            let n_ips = 1 + self.rng.below(arch.max_ips);
            let v6 = arch.human && self.rng.chance(300_000);
            self.add_key(
                arch,
                account,
                home,
                n_ips,
                v6,
                KeyUse::Background,
                format!("background {}", arch.name),
                false,
            )?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_other(
        &mut self,
        label: &str,
        account: u8,
        ident: Ident,
        addrs: Vec<u16>,
        agent: &str,
        profile: Profile,
        human: bool,
        tz: i64,
        rate: u64,
        denied_ppm: u32,
        all_account_regions: bool,
    ) {
        let agent = self.world.agent(agent);
        let ops: Vec<(u16, u64)> = profile
            .iter()
            .map(|(n, w)| (api_index(n), u64::from(*w)))
            .collect();
        let a = &self.world.accounts[account as usize];
        let (regions, region_cum) = if all_account_regions {
            (a.regions.clone(), cumulative(a.regions.iter().map(|_| 1)))
        } else {
            (vec![a.regions[0]], vec![1])
        };
        self.world.actors.push(Actor {
            label: label.to_owned(),
            account,
            ident,
            addrs,
            agent,
            api_cum: cumulative(ops.iter().map(|o| o.1)),
            apis: ops.iter().map(|o| o.0).collect(),
            regions,
            region_cum,
            tz,
            human,
            rate: rate * self.other_scale,
            err_ppm: 15_000,
            denied_ppm,
            heartbeat: None,
            home_country: None,
            key_use: KeyUse::None,
            archetype: "",
        });
    }

    fn role_id(&mut self) -> String {
        format!("AROA{}", rng::chars(&mut self.rng, KEY_ALPHABET, 17))
    }

    fn instance_id(&mut self) -> String {
        format!("i-0{}", rng::hex_string(&mut rng::Mix(self.rng.bits()), 16))
    }

    fn roles_and_services(&mut self) -> io::Result<()> {
        let company = self.world.accounts[0]
            .alias
            .split('-')
            .next()
            .unwrap_or("acme")
            .to_owned();
        for account in 0..2u8 {
            let prod = account == 0;
            let main_region =
                catalog::REGIONS[self.world.accounts[account as usize].regions[0] as usize];
            let dc = catalog::region_country(main_region);
            let scale = if prod { 1 } else { 3 };

            // EC2 instance role: two Elastic IPs and a VPC endpoint address.
            let mut addrs = vec![self.public_addr(dc)?, self.public_addr(dc)?];
            let private = self.ips.private();
            addrs.push(self.world.addr(private.to_string(), None));
            let sessions = (0..3).map(|_| self.instance_id()).collect();
            let role_id = self.role_id();
            self.add_other(
                "role app-server (EC2 instance profile)",
                account,
                Ident::Role {
                    role: "app-server-role".into(),
                    role_id,
                    sessions,
                    flavor: RoleFlavor::Instance,
                },
                addrs,
                catalog::SDK_AGENTS[2],
                catalog::INSTANCE_ROLE,
                false,
                0,
                20 / scale,
                5_000,
                false,
            );

            // CI/CD through GitHub OIDC, from many runner addresses.
            let mut addrs = Vec::new();
            for _ in 0..8 {
                addrs.push(self.public_addr("US")?);
            }
            let role_id = self.role_id();
            self.add_other(
                "role github-actions-deploy (web identity)",
                account,
                Ident::Role {
                    role: "github-actions-deploy".into(),
                    role_id,
                    sessions: vec!["GitHubActions".into()],
                    flavor: RoleFlavor::WebIdentity,
                },
                addrs,
                catalog::TERRAFORM_AGENTS[0],
                catalog::TERRAFORM,
                true,
                -5,
                8 / scale,
                20_000,
                true,
            );

            // Services assuming roles, and KMS calls made on behalf of S3.
            let svc_addr0 = vec![self.world.addr("lambda.amazonaws.com".into(), None)];
            self.add_other(
                "service lambda.amazonaws.com",
                account,
                Ident::Service {
                    host: "lambda.amazonaws.com",
                },
                svc_addr0,
                "lambda.amazonaws.com",
                catalog::ASSUME_ROLE,
                false,
                0,
                6 / scale,
                0,
                true,
            );
            let svc_addr1 = vec![self.world.addr("ec2.amazonaws.com".into(), None)];
            self.add_other(
                "service ec2.amazonaws.com",
                account,
                Ident::Service {
                    host: "ec2.amazonaws.com",
                },
                svc_addr1,
                "ec2.amazonaws.com",
                catalog::ASSUME_ROLE,
                false,
                0,
                3,
                0,
                false,
            );
            let svc_addr2 = vec![self.world.addr("AWS Internal".into(), None)];
            self.add_other(
                "service AWS Internal (KMS)",
                account,
                Ident::Service {
                    host: "AWS Internal",
                },
                svc_addr2,
                "AWS Internal",
                catalog::KMS_INTERNAL,
                false,
                0,
                5 / scale,
                0,
                true,
            );

            if prod {
                // Lambda execution role: AWS addresses that change often.
                let mut addrs = Vec::new();
                for _ in 0..6 {
                    addrs.push(self.public_addr(dc)?);
                }
                let role_id = self.role_id();
                self.add_other(
                    "role orders-processor (Lambda)",
                    account,
                    Ident::Role {
                        role: "orders-processor-role".into(),
                        role_id,
                        sessions: vec!["orders-processor".into()],
                        flavor: RoleFlavor::Lambda,
                    },
                    addrs,
                    catalog::LAMBDA_AGENT,
                    catalog::LAMBDA_ROLE,
                    false,
                    0,
                    16,
                    5_000,
                    false,
                );

                // AWS Config recorder through its service-linked role.
                let role_id = self.role_id();
                let svc_addr3 = vec![self.world.addr("config.amazonaws.com".into(), None)];
                self.add_other(
                    "role AWSServiceRoleForConfig (service-linked)",
                    account,
                    Ident::Role {
                        role: "AWSServiceRoleForConfig".into(),
                        role_id,
                        sessions: vec!["AWSConfig-Describe".into()],
                        flavor: RoleFlavor::ServiceLinked,
                    },
                    svc_addr3,
                    "config.amazonaws.com",
                    catalog::CONFIG_RECORDER,
                    false,
                    0,
                    4,
                    0,
                    true,
                );

                // SSO administrators in the console.
                for _ in 0..2 {
                    let home = self.pick_home();
                    let person = self.person();
                    let addrs = vec![self.public_addr(home)?];
                    let role_id = self.role_id();
                    let role = format!(
                        "AWSReservedSSO_AdministratorAccess_{}",
                        rng::hex_string(&mut rng::Mix(self.rng.bits()), 16)
                    );
                    let agent = *self.rng.pick(catalog::BROWSER_AGENTS);
                    self.add_other(
                        "role AWS SSO administrator (console)",
                        account,
                        Ident::Role {
                            role,
                            role_id,
                            sessions: vec![format!("{person}@{company}.com")],
                            flavor: RoleFlavor::Sso,
                        },
                        addrs,
                        agent,
                        catalog::CONSOLE,
                        true,
                        tz_of(home),
                        3,
                        20_000,
                        true,
                    );
                }

                // An IAM user who works in the console.
                let home = self.pick_home();
                let user = self.person();
                let principal = format!("AIDA{}", rng::chars(&mut self.rng, KEY_ALPHABET, 17));
                let addrs = vec![self.public_addr(home)?];
                self.world.accounts[0].users.push(user.clone());
                let agent = *self.rng.pick(catalog::BROWSER_AGENTS);
                self.add_other(
                    "IAM user in the console",
                    account,
                    Ident::ConsoleUser { user, principal },
                    addrs,
                    agent,
                    catalog::CONSOLE_USER,
                    true,
                    tz_of(home),
                    3,
                    15_000,
                    true,
                );
            }
        }
        // IAM users without keys still appear in IAM calls.
        for _ in 0..4 {
            let name = self.person();
            self.world.accounts[0].users.push(name);
        }
        Ok(())
    }
}

/// Builds the background organisation: accounts, `keys` IAM users with AKIA keys, roles and
/// services.
pub(crate) fn build<'g>(seed: u64, keys: u32, geo: &'g GeoIp) -> io::Result<Builder<'g>> {
    let mut b = Builder::new(seed, geo);
    b.other_scale = u64::from(keys.clamp(4, 48));
    b.accounts();
    b.background_keys(keys)?;
    b.roles_and_services()?;
    Ok(b)
}
