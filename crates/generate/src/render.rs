//! Writing one CloudTrail record as JSON, by hand, in CloudTrail's field order.

use crate::catalog::{self, APIS, ApiDef, Kind, REGIONS, Svc};
use crate::json::{push_escaped, push_str, push_u64};
use crate::rng::{self, ALNUM, BASE64, KEY_ALPHABET, Mix, UPPER_ALNUM, domain, mix64};
use crate::time::{push_iam_date, push_iso};
use crate::world::{Account, Actor, AddrKind, Details, Ident, RoleFlavor, World};

/// One event to write: everything else follows from the world and the per-event seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ev {
    /// Seconds since the epoch.
    pub t: i64,
    /// Seeds the ids and the request/response details.
    pub seed: u64,
    pub actor: u16,
    pub api: u16,
    pub addr: u16,
    pub agent: u16,
    pub region: u8,
    pub account: u8,
    /// [`ERR_NONE`], [`ERR_DENIED`], [`ERR_THROTTLE`] or `1 + index` into the operation's errors.
    pub err: u8,
    /// `0`, or `1 + index` into [`World::details`]: request details a planted event carries
    /// instead of its operation's templates.
    pub details: u16,
}

pub(crate) const ERR_NONE: u8 = 0;
pub(crate) const ERR_DENIED: u8 = 255;
pub(crate) const ERR_THROTTLE: u8 = 254;

/// The `eventID` of an event with this seed.
pub(crate) fn event_id(seed: u64) -> String {
    rng::uuid_string(&mut Mix(seed))
}

/// The error code an event carries, if any.
pub(crate) fn error_code(ev: &Ev) -> Option<&'static str> {
    let api = &APIS[ev.api as usize];
    match ev.err {
        ERR_NONE => None,
        ERR_DENIED => Some(api.svc.denied_code()),
        ERR_THROTTLE => Some(api.svc.throttle().0),
        k => Some(api.errs[(k - 1) as usize].0),
    }
}

/// Template placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Acct,
    Region,
    Caller,
    CallerArn,
    Action,
    UName,
    Role,
    Bucket,
    ObjKey,
    ObjKey2,
    Prefix,
    Inst,
    Sg,
    Vpc,
    Subnet,
    Ami,
    Vol,
    Snap,
    Uuid2,
    Hex8,
    Hex16,
    Hex17,
    Hex32,
    Key17,
    Secret,
    Func,
    Table,
    Stack,
    Param,
    KmsKey,
    Policy,
    Group,
    Db,
    Host,
    NewUser,
    AkiaNew,
    AsiaNew,
    Token,
    Time,
    TimeIam,
    ExpiryIam,
    TimeAgo,
    EpochMs,
    N9,
    N100,
    N1000,
    Bytes,
    SessName,
    Az,
    PrivIp,
    PrivDash,
    Day,
    Rand6,
    AmzId2,
}

const VARS: &[(&str, Var)] = &[
    ("ACCT", Var::Acct),
    ("REGION", Var::Region),
    ("CALLER", Var::Caller),
    ("CALLERARN", Var::CallerArn),
    ("ACTION", Var::Action),
    ("UNAME", Var::UName),
    ("ROLE", Var::Role),
    ("BUCKET", Var::Bucket),
    ("OBJKEY", Var::ObjKey),
    ("OBJKEY2", Var::ObjKey2),
    ("PREFIX", Var::Prefix),
    ("INST", Var::Inst),
    ("SG", Var::Sg),
    ("VPC", Var::Vpc),
    ("SUBNET", Var::Subnet),
    ("AMI", Var::Ami),
    ("VOL", Var::Vol),
    ("SNAP", Var::Snap),
    ("UUID2", Var::Uuid2),
    ("HEX8", Var::Hex8),
    ("HEX16", Var::Hex16),
    ("HEX17", Var::Hex17),
    ("HEX32", Var::Hex32),
    ("KEY17", Var::Key17),
    ("SECRET", Var::Secret),
    ("FUNC", Var::Func),
    ("TABLE", Var::Table),
    ("STACK", Var::Stack),
    ("PARAM", Var::Param),
    ("KMSKEY", Var::KmsKey),
    ("POLICY", Var::Policy),
    ("GROUP", Var::Group),
    ("DB", Var::Db),
    ("HOST", Var::Host),
    ("NEWUSER", Var::NewUser),
    ("AKIANEW", Var::AkiaNew),
    ("ASIANEW", Var::AsiaNew),
    ("TOKEN", Var::Token),
    ("TIME", Var::Time),
    ("TIMEIAM", Var::TimeIam),
    ("EXPIRYIAM", Var::ExpiryIam),
    ("TIMEAGO", Var::TimeAgo),
    ("EPOCHMS", Var::EpochMs),
    ("N9", Var::N9),
    ("N100", Var::N100),
    ("N1000", Var::N1000),
    ("BYTES", Var::Bytes),
    ("SESSNAME", Var::SessName),
    ("AZ", Var::Az),
    ("PRIVIP", Var::PrivIp),
    ("PRIVDASH", Var::PrivDash),
    ("DAY", Var::Day),
    ("RAND6", Var::Rand6),
    ("AMZID2", Var::AmzId2),
];

#[derive(Debug, Clone)]
enum Seg {
    Lit(Vec<u8>),
    Var(Var),
}

/// A compiled template.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tpl(Vec<Seg>);

impl Tpl {
    /// Compiles `$NAME` placeholders; `$$` is a literal `$`. Panics on an unknown name (the
    /// templates are static and covered by tests).
    fn compile(src: &str) -> Tpl {
        Self::compile_with(src, false)
    }

    /// Compiles a plain-text template (an error message) for use inside a JSON string: its
    /// literal parts are escaped.
    fn compile_text(src: &str) -> Tpl {
        Self::compile_with(src, true)
    }

    fn compile_with(src: &str, escape: bool) -> Tpl {
        let flush = |lit: &mut Vec<u8>, segs: &mut Vec<Seg>| {
            if !lit.is_empty() {
                let l = std::mem::take(lit);
                if escape {
                    let mut e = Vec::with_capacity(l.len());
                    push_escaped(
                        &mut e,
                        std::str::from_utf8(&l).expect("templates are UTF-8"),
                    );
                    segs.push(Seg::Lit(e));
                } else {
                    segs.push(Seg::Lit(l));
                }
            }
        };
        let b = src.as_bytes();
        let mut segs = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                if b.get(i + 1) == Some(&b'$') {
                    lit.push(b'$');
                    i += 2;
                    continue;
                }
                let start = i + 1;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_uppercase() || b[end].is_ascii_digit()) {
                    end += 1;
                }
                let name = &src[start..end];
                let var = VARS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("unknown template variable ${name} in {src}"))
                    .1;
                flush(&mut lit, &mut segs);
                segs.push(Seg::Var(var));
                i = end;
            } else {
                lit.push(b[i]);
                i += 1;
            }
        }
        flush(&mut lit, &mut segs);
        Tpl(segs)
    }

    fn write(&self, out: &mut Vec<u8>, c: &Ctx) {
        for s in &self.0 {
            match s {
                Seg::Lit(l) => out.extend_from_slice(l),
                Seg::Var(v) => c.var(out, *v),
            }
        }
    }
}

/// Per-operation compiled templates.
pub(crate) struct Templates {
    req: Vec<Option<Tpl>>,
    resp: Vec<Option<Tpl>>,
    errs: Vec<Vec<Tpl>>,
    denied: Vec<Tpl>,
    host: Vec<Tpl>,
    resources: Vec<Option<Tpl>>,
    extra: Vec<Option<Tpl>>,
}

const S3_EXTRA: &str = r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"$AMZID2","bytesTransferredOut":$BYTES}"#;
const CONSOLE_EXTRA: &str = r#"{"LoginTo":"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_$HEX16","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::$ACCT:mfa/$CALLER","MFAUsed":"Yes"}"#;

impl Templates {
    pub(crate) fn new() -> Self {
        let opt = |s: Option<&str>| s.map(Tpl::compile);
        Templates {
            req: APIS.iter().map(|a| opt(a.req)).collect(),
            resp: APIS.iter().map(|a| opt(a.resp)).collect(),
            errs: APIS
                .iter()
                .map(|a| a.errs.iter().map(|e| Tpl::compile_text(e.1)).collect())
                .collect(),
            denied: APIS
                .iter()
                .map(|a| Tpl::compile_text(a.svc.denied_message()))
                .collect(),
            host: APIS
                .iter()
                .map(|a| {
                    let (label, regional) = a.svc.host_label();
                    Tpl::compile(&match a.kind {
                        Kind::S3Service => "s3.$REGION.amazonaws.com".to_owned(),
                        Kind::S3Bucket | Kind::S3Object => {
                            "$BUCKET.s3.$REGION.amazonaws.com".to_owned()
                        }
                        _ if regional => format!("{label}.$REGION.amazonaws.com"),
                        _ => label.to_owned(),
                    })
                })
                .collect(),
            resources: APIS
                .iter()
                .map(|a| {
                    opt(match a.kind {
                        Kind::S3Bucket => Some(
                            r#"[{"accountId":"$ACCT","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::$BUCKET"}]"#,
                        ),
                        Kind::S3Object => Some(
                            r#"[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::$BUCKET/$OBJKEY"},{"accountId":"$ACCT","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::$BUCKET"}]"#,
                        ),
                        Kind::AssumeRole => Some(
                            r#"[{"accountId":"$ACCT","type":"AWS::IAM::Role","ARN":"arn:aws:iam::$ACCT:role/$ROLE"}]"#,
                        ),
                        Kind::Kms => Some(
                            r#"[{"accountId":"$ACCT","type":"AWS::KMS::Key","ARN":"arn:aws:kms:$REGION:$ACCT:key/$KMSKEY"}]"#,
                        ),
                        _ => None,
                    })
                })
                .collect(),
            extra: APIS
                .iter()
                .map(|a| {
                    opt(match a.kind {
                        Kind::S3Service | Kind::S3Bucket | Kind::S3Object => Some(S3_EXTRA),
                        Kind::ConsoleLogin => Some(CONSOLE_EXTRA),
                        _ => None,
                    })
                })
                .collect(),
        }
    }
}

/// The temporary credentials an event was made with.
struct Session<'a> {
    name: &'a str,
    key: [u8; 20],
    created: i64,
}

fn session<'a>(w: &World, actor_idx: u16, actor: &'a Actor, ev: &Ev) -> Option<Session<'a>> {
    let (names, window): (&'a [String], i64) = match &actor.ident {
        Ident::Role {
            sessions, flavor, ..
        } => (
            sessions.as_slice(),
            match flavor {
                RoleFlavor::Instance | RoleFlavor::Lambda => 6 * 3600,
                RoleFlavor::Sso => 8 * 3600,
                RoleFlavor::WebIdentity | RoleFlavor::ServiceLinked => 3600,
            },
        ),
        Ident::ConsoleUser { user, .. } => (std::slice::from_ref(user), 12 * 3600),
        _ => return None,
    };
    let idx = (ev.seed % names.len() as u64) as usize;
    let win = ev.t.div_euclid(window);
    let mut m = Mix(rng::derive(
        w.seed,
        domain::SESSION,
        u64::from(actor_idx),
        (win as u64).wrapping_mul(16).wrapping_add(idx as u64),
    ));
    let mut key = *b"ASIA0000000000000000";
    let mut tail = Vec::with_capacity(16);
    rng::push_chars(&mut tail, &mut m, KEY_ALPHABET, 16);
    key[4..].copy_from_slice(&tail);
    Some(Session {
        name: &names[idx],
        key,
        created: win * window,
    })
}

struct Ctx<'a> {
    acct: &'a Account,
    actor: &'a Actor,
    api: &'static ApiDef,
    region: &'static str,
    ev: &'a Ev,
    session: Option<Session<'a>>,
}

fn pick(h: u64, pool: &[impl AsRef<str>]) -> &str {
    pool[(h % pool.len() as u64) as usize].as_ref()
}

impl Ctx<'_> {
    fn caller_name(&self) -> &str {
        match (&self.actor.ident, &self.session) {
            (Ident::Role { .. }, Some(s)) => s.name,
            _ => self.actor.user_name(),
        }
    }

    fn push_caller_arn(&self, out: &mut Vec<u8>) {
        let acct = self.acct.id.as_bytes();
        match &self.actor.ident {
            Ident::UserKey { user, .. } | Ident::ConsoleUser { user, .. } => {
                out.extend_from_slice(b"arn:aws:iam::");
                out.extend_from_slice(acct);
                out.extend_from_slice(b":user/");
                out.extend_from_slice(user.as_bytes());
            }
            Ident::Role { role, .. } => {
                out.extend_from_slice(b"arn:aws:sts::");
                out.extend_from_slice(acct);
                out.extend_from_slice(b":assumed-role/");
                out.extend_from_slice(role.as_bytes());
                out.push(b'/');
                push_escaped(out, self.caller_name());
            }
            Ident::Service { host } => out.extend_from_slice(host.as_bytes()),
        }
    }

    /// Stable per-account resource id such as `i-0…`: `count` distinct values.
    fn stable(&self, out: &mut Vec<u8>, prefix: &[u8], kind: u64, h: u64, count: u64) {
        out.extend_from_slice(prefix);
        let mut m = Mix(mix64(self.acct.salt ^ kind.wrapping_mul(0x1000_0001)) ^ (h % count));
        rng::push_hex(out, &mut m, 16);
    }

    fn var(&self, out: &mut Vec<u8>, v: Var) {
        // Each placeholder draws from its own value, so it is the same everywhere in a record.
        let salt = match v {
            Var::PrivDash => Var::PrivIp as u64,
            other => other as u64,
        };
        let h = mix64(self.ev.seed ^ (salt + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut m = Mix(h);
        let t = self.ev.t;
        match v {
            Var::Acct => out.extend_from_slice(self.acct.id.as_bytes()),
            Var::Region => out.extend_from_slice(self.region.as_bytes()),
            Var::Caller => push_escaped(out, self.caller_name()),
            Var::CallerArn => self.push_caller_arn(out),
            Var::Action => {
                out.extend_from_slice(self.api.svc.prefix().as_bytes());
                out.push(b':');
                let name = self.api.name;
                let cut = name.find("2015").unwrap_or(name.len());
                out.extend_from_slice(&name.as_bytes()[..cut]);
            }
            Var::UName => push_escaped(out, pick(h, &self.acct.users)),
            Var::Role => out.extend_from_slice(match &self.actor.ident {
                // Services assume their own execution roles.
                Ident::Service {
                    host: "lambda.amazonaws.com",
                } => b"orders-processor-role".as_slice(),
                Ident::Service {
                    host: "ec2.amazonaws.com",
                } => b"app-server-role".as_slice(),
                _ => pick(h, catalog::ROLE_NAMES).as_bytes(),
            }),
            Var::Bucket => out.extend_from_slice(pick(h, &self.acct.buckets).as_bytes()),
            Var::ObjKey | Var::ObjKey2 => {
                out.extend_from_slice(pick(h, catalog::OBJECT_PREFIXES).as_bytes());
                rng::push_hex(out, &mut m, 12);
                out.extend_from_slice(pick(h >> 20, catalog::OBJECT_SUFFIXES).as_bytes());
            }
            Var::Prefix => out.extend_from_slice(pick(h, catalog::OBJECT_PREFIXES).as_bytes()),
            Var::Inst => self.stable(out, b"i-0", 1, h, 40),
            Var::Sg => self.stable(out, b"sg-0", 2, h, 12),
            Var::Vpc => self.stable(out, b"vpc-0", 3, h, 3),
            Var::Subnet => self.stable(out, b"subnet-0", 4, h, 9),
            Var::Ami => self.stable(out, b"ami-0", 5, h, 6),
            Var::Vol => self.stable(out, b"vol-0", 6, h, 50),
            Var::Snap => {
                out.extend_from_slice(b"snap-0");
                rng::push_hex(out, &mut m, 16);
            }
            Var::Uuid2 => rng::push_uuid(out, &mut m),
            Var::Hex8 => rng::push_hex(out, &mut m, 8),
            Var::Hex16 => rng::push_hex(out, &mut m, 16),
            Var::Hex17 => rng::push_hex(out, &mut m, 17),
            Var::Hex32 => rng::push_hex(out, &mut m, 32),
            Var::Key17 => rng::push_chars(out, &mut m, KEY_ALPHABET, 17),
            Var::Secret => out.extend_from_slice(pick(h, catalog::SECRET_NAMES).as_bytes()),
            Var::Func => out.extend_from_slice(pick(h, catalog::FUNCTION_NAMES).as_bytes()),
            Var::Table => out.extend_from_slice(pick(h, catalog::TABLE_NAMES).as_bytes()),
            Var::Stack => out.extend_from_slice(pick(h, catalog::STACK_NAMES).as_bytes()),
            Var::Param => out.extend_from_slice(pick(h, catalog::PARAM_NAMES).as_bytes()),
            Var::KmsKey => out.extend_from_slice(pick(h, &self.acct.kms_keys).as_bytes()),
            Var::Policy => out.extend_from_slice(pick(h, catalog::POLICY_NAMES).as_bytes()),
            Var::Group => out.extend_from_slice(pick(h, catalog::GROUP_NAMES).as_bytes()),
            Var::Db => out.extend_from_slice(pick(h, catalog::DB_NAMES).as_bytes()),
            Var::Host => out.extend_from_slice(pick(h, catalog::HOST_NAMES).as_bytes()),
            Var::NewUser => {
                out.extend_from_slice(pick(h, catalog::FIRST_NAMES).as_bytes());
                out.push(b'.');
                out.extend_from_slice(pick(h >> 24, catalog::LAST_NAMES).as_bytes());
            }
            Var::AkiaNew => {
                out.extend_from_slice(b"AKIA");
                rng::push_chars(out, &mut m, KEY_ALPHABET, 16);
            }
            Var::AsiaNew => {
                out.extend_from_slice(b"ASIA");
                rng::push_chars(out, &mut m, KEY_ALPHABET, 16);
            }
            Var::Token => {
                out.extend_from_slice(b"IQoJb3JpZ2luX2VjE");
                rng::push_chars(out, &mut m, BASE64, 300);
            }
            Var::Time => push_iso(out, t),
            Var::TimeIam => push_iam_date(out, t),
            Var::ExpiryIam => push_iam_date(out, t + 3600),
            Var::TimeAgo => push_iso(out, t - 3600),
            Var::EpochMs => push_u64(out, (t as u64) * 1000 + h % 1000),
            Var::N9 => push_u64(out, 1 + h % 9),
            Var::N100 => push_u64(out, 1 + h % 100),
            Var::N1000 => push_u64(out, 1 + h % 1000),
            Var::Bytes => push_u64(out, 512 + h % 8_000_000),
            Var::SessName => match &self.actor.ident {
                Ident::Service {
                    host: "lambda.amazonaws.com",
                } => out.extend_from_slice(pick(h, catalog::FUNCTION_NAMES).as_bytes()),
                Ident::Service {
                    host: "ec2.amazonaws.com",
                } => self.stable(out, b"i-0", 1, h, 40),
                _ => {
                    out.extend_from_slice(b"botocore-session-");
                    push_u64(out, (t as u64).saturating_sub(h % 5000));
                }
            },
            Var::Az => {
                out.extend_from_slice(self.region.as_bytes());
                out.push(b"abc"[(h % 3) as usize]);
            }
            Var::PrivIp | Var::PrivDash => {
                let sep = if v == Var::PrivIp { b'.' } else { b'-' };
                out.extend_from_slice(b"10");
                for part in [h & 0x0f, (h >> 8) & 0xff, 1 + (h >> 16) % 254] {
                    out.push(sep);
                    push_u64(out, part);
                }
            }
            Var::Day => {
                let c = crate::time::civil(t);
                push_u64(out, c.year as u64);
                out.push(b'/');
                out.extend_from_slice(format!("{:02}/{:02}", c.month, c.day).as_bytes());
            }
            Var::Rand6 => rng::push_chars(out, &mut m, ALNUM, 6),
            Var::AmzId2 => rng::push_chars(out, &mut m, BASE64, 76),
        }
    }

    fn push_identity(&self, out: &mut Vec<u8>) {
        let acct = self.acct.id.as_bytes();
        match &self.actor.ident {
            Ident::UserKey {
                user,
                principal,
                key,
            } => {
                out.extend_from_slice(b"{\"type\":\"IAMUser\",\"principalId\":\"");
                out.extend_from_slice(principal.as_bytes());
                out.extend_from_slice(b"\",\"arn\":\"");
                self.push_caller_arn(out);
                out.extend_from_slice(b"\",\"accountId\":\"");
                out.extend_from_slice(acct);
                out.extend_from_slice(b"\",\"accessKeyId\":\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\",\"userName\":");
                push_str(out, user);
                out.push(b'}');
            }
            Ident::ConsoleUser { user, principal } => {
                out.extend_from_slice(b"{\"type\":\"IAMUser\",\"principalId\":\"");
                out.extend_from_slice(principal.as_bytes());
                out.extend_from_slice(b"\",\"arn\":\"");
                self.push_caller_arn(out);
                out.extend_from_slice(b"\",\"accountId\":\"");
                out.extend_from_slice(acct);
                out.extend_from_slice(b"\",");
                if let (Some(s), false) = (&self.session, self.api.kind == Kind::ConsoleLogin) {
                    out.extend_from_slice(b"\"accessKeyId\":\"");
                    out.extend_from_slice(&s.key);
                    out.extend_from_slice(b"\",\"userName\":");
                    push_str(out, user);
                    out.extend_from_slice(b",\"sessionContext\":{\"sessionIssuer\":{},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"");
                    push_iso(out, s.created);
                    out.extend_from_slice(b"\",\"mfaAuthenticated\":\"true\"}}}");
                } else {
                    out.extend_from_slice(b"\"userName\":");
                    push_str(out, user);
                    out.push(b'}');
                }
            }
            Ident::Role {
                role,
                role_id,
                flavor,
                ..
            } => {
                let s = self.session.as_ref().expect("roles have sessions");
                out.extend_from_slice(b"{\"type\":\"AssumedRole\",\"principalId\":\"");
                out.extend_from_slice(role_id.as_bytes());
                out.push(b':');
                push_escaped(out, s.name);
                out.extend_from_slice(b"\",\"arn\":\"");
                self.push_caller_arn(out);
                out.extend_from_slice(b"\",\"accountId\":\"");
                out.extend_from_slice(acct);
                out.extend_from_slice(b"\",\"accessKeyId\":\"");
                out.extend_from_slice(&s.key);
                out.extend_from_slice(b"\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"");
                out.extend_from_slice(role_id.as_bytes());
                out.extend_from_slice(b"\",\"arn\":\"arn:aws:iam::");
                out.extend_from_slice(acct);
                out.extend_from_slice(b":role/");
                out.extend_from_slice(role.as_bytes());
                out.extend_from_slice(b"\",\"accountId\":\"");
                out.extend_from_slice(acct);
                out.extend_from_slice(b"\",\"userName\":\"");
                out.extend_from_slice(role.as_bytes());
                out.extend_from_slice(b"\"},\"webIdFederationData\":");
                if *flavor == RoleFlavor::WebIdentity {
                    out.extend_from_slice(b"{\"federatedProvider\":\"arn:aws:iam::");
                    out.extend_from_slice(acct);
                    out.extend_from_slice(
                        b":oidc-provider/token.actions.githubusercontent.com\",\"attributes\":{}}",
                    );
                } else {
                    out.extend_from_slice(b"{}");
                }
                out.extend_from_slice(b",\"attributes\":{\"creationDate\":\"");
                push_iso(out, s.created);
                out.extend_from_slice(b"\",\"mfaAuthenticated\":\"false\"}");
                if *flavor == RoleFlavor::Instance {
                    out.extend_from_slice(b",\"ec2RoleDelivery\":\"2.0\"");
                }
                out.push(b'}');
                if *flavor == RoleFlavor::ServiceLinked {
                    out.extend_from_slice(b",\"invokedBy\":\"config.amazonaws.com\"");
                }
                out.push(b'}');
            }
            Ident::Service { host } => {
                out.extend_from_slice(b"{\"type\":\"AWSService\",\"invokedBy\":\"");
                out.extend_from_slice(host.as_bytes());
                out.extend_from_slice(b"\"}");
            }
        }
    }
}

/// Appends one record.
pub(crate) fn render(out: &mut Vec<u8>, w: &World, tpl: &Templates, ev: &Ev) {
    let actor = &w.actors[ev.actor as usize];
    let api = &APIS[ev.api as usize];
    let ai = ev.api as usize;
    let c = Ctx {
        acct: &w.accounts[ev.account as usize],
        actor,
        api,
        region: REGIONS[ev.region as usize],
        ev,
        session: session(w, ev.actor, actor, ev),
    };
    let addr_kind = w.addr_kind[ev.addr as usize];
    let mut ids = Mix(ev.seed);
    let event_id = {
        let mut v = Vec::with_capacity(36);
        rng::push_uuid(&mut v, &mut ids);
        v
    };

    out.extend_from_slice(b"{\"eventVersion\":\"");
    out.extend_from_slice(api.svc.version().as_bytes());
    out.extend_from_slice(b"\",\"userIdentity\":");
    c.push_identity(out);
    out.extend_from_slice(b",\"eventTime\":\"");
    push_iso(out, ev.t);
    out.extend_from_slice(b"\",\"eventSource\":\"");
    out.extend_from_slice(api.svc.source().as_bytes());
    out.extend_from_slice(b"\",\"eventName\":\"");
    out.extend_from_slice(api.name.as_bytes());
    out.extend_from_slice(b"\",\"awsRegion\":\"");
    out.extend_from_slice(c.region.as_bytes());
    out.extend_from_slice(b"\",\"sourceIPAddress\":");
    push_str(out, &w.addrs[ev.addr as usize]);
    out.extend_from_slice(b",\"userAgent\":");
    push_str(out, &w.agents[ev.agent as usize]);
    match ev.err {
        ERR_NONE => {}
        ERR_DENIED => {
            out.extend_from_slice(b",\"errorCode\":\"");
            out.extend_from_slice(api.svc.denied_code().as_bytes());
            out.extend_from_slice(b"\",\"errorMessage\":\"");
            tpl.denied[ai].write(out, &c);
            out.push(b'"');
        }
        ERR_THROTTLE => {
            let (code, msg) = api.svc.throttle();
            out.extend_from_slice(b",\"errorCode\":\"");
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"\",\"errorMessage\":\"");
            push_escaped(out, msg);
            out.push(b'"');
        }
        k => {
            let k = (k - 1) as usize;
            out.extend_from_slice(b",\"errorCode\":\"");
            out.extend_from_slice(api.errs[k].0.as_bytes());
            out.extend_from_slice(b"\",\"errorMessage\":\"");
            tpl.errs[ai][k].write(out, &c);
            out.push(b'"');
        }
    }
    // A planted event's own details are compiled here, per event: there are a handful of them.
    let details = ev.details.checked_sub(1).map(|i| &w.details[i as usize]);
    let own = |part: fn(&Details) -> &Option<String>| {
        details.and_then(|d| part(d).as_deref().map(Tpl::compile))
    };
    let (req, resp, extra) = (
        own(|d| &d.request),
        own(|d| &d.response),
        own(|d| &d.additional),
    );
    out.extend_from_slice(b",\"requestParameters\":");
    match req.as_ref().or(tpl.req[ai].as_ref()) {
        Some(t) => t.write(out, &c),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"responseElements\":");
    match (resp.as_ref().or(tpl.resp[ai].as_ref()), ev.err) {
        (Some(t), ERR_NONE) => t.write(out, &c),
        _ => out.extend_from_slice(b"null"),
    }
    if let Some(t) = extra.as_ref().or(tpl.extra[ai].as_ref()) {
        out.extend_from_slice(b",\"additionalEventData\":");
        t.write(out, &c);
    }
    if api.kind != Kind::ConsoleLogin {
        out.extend_from_slice(b",\"requestID\":\"");
        if api.svc == Svc::S3 {
            rng::push_chars(out, &mut ids, UPPER_ALNUM, 16);
        } else {
            rng::push_uuid(out, &mut ids);
        }
        out.push(b'"');
    }
    out.extend_from_slice(b",\"eventID\":\"");
    out.extend_from_slice(&event_id);
    out.extend_from_slice(b"\",\"readOnly\":");
    out.extend_from_slice(if api.read_only { b"true" } else { b"false" });
    if let Some(t) = &tpl.resources[ai] {
        out.extend_from_slice(b",\"resources\":");
        t.write(out, &c);
    }
    out.extend_from_slice(if api.kind == Kind::ConsoleLogin {
        b",\"eventType\":\"AwsConsoleSignIn\"".as_slice()
    } else {
        b",\"eventType\":\"AwsApiCall\"".as_slice()
    });
    let data_event = api.kind == Kind::S3Object || api.name == "ListObjects";
    out.extend_from_slice(if data_event {
        b",\"managementEvent\":false".as_slice()
    } else {
        b",\"managementEvent\":true".as_slice()
    });
    out.extend_from_slice(b",\"recipientAccountId\":\"");
    out.extend_from_slice(c.acct.id.as_bytes());
    out.push(b'"');
    if api.kind == Kind::AssumeRole && matches!(actor.ident, Ident::Service { .. }) {
        out.extend_from_slice(b",\"sharedEventID\":\"");
        rng::push_uuid(out, &mut ids);
        out.push(b'"');
    }
    if addr_kind == AddrKind::Private {
        out.extend_from_slice(b",\"vpcEndpointId\":\"");
        out.extend_from_slice(c.acct.vpce.as_bytes());
        out.extend_from_slice(b"\",\"vpcEndpointAccountId\":\"");
        out.extend_from_slice(c.acct.id.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(if data_event {
        b",\"eventCategory\":\"Data\"".as_slice()
    } else {
        b",\"eventCategory\":\"Management\"".as_slice()
    });
    if addr_kind != AddrKind::Service {
        if ev.agent % 3 == 2 {
            out.extend_from_slice(b",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\",\"clientProvidedHostHeader\":\"");
        } else {
            out.extend_from_slice(b",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"");
        }
        tpl.host[ai].write(out, &c);
        out.extend_from_slice(b"\"}");
    }
    let console = match &actor.ident {
        Ident::ConsoleUser { .. } => api.kind != Kind::ConsoleLogin,
        Ident::Role { flavor, .. } => *flavor == RoleFlavor::Sso,
        _ => false,
    };
    if console {
        out.extend_from_slice(b",\"sessionCredentialFromConsole\":\"true\"");
    }
    out.push(b'}');
}

/// The key `CreateAccessKey` names in its response (`$AKIANEW`).
pub(crate) fn created_key(ev: &Ev) -> String {
    drawn_key(ev, Var::AkiaNew, b"AKIA")
}

/// The temporary key a minting call (`GetSessionToken`, `AssumeRole`) names in its response
/// (`$ASIANEW`).
pub(crate) fn minted_key(ev: &Ev) -> String {
    drawn_key(ev, Var::AsiaNew, b"ASIA")
}

/// A key placeholder's value, drawn from the event's seed exactly as [`Ctx::var`] draws it.
fn drawn_key(ev: &Ev, var: Var, prefix: &[u8]) -> String {
    let salt = var as u64;
    let mut m = Mix(mix64(
        ev.seed ^ (salt + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    ));
    let mut out = prefix.to_vec();
    rng::push_chars(&mut out, &mut m, KEY_ALPHABET, 16);
    String::from_utf8_lossy(&out).into_owned()
}

/// The access key id an event carries (`AKIA…`, `ASIA…`), if any.
pub(crate) fn access_key_of(w: &World, ev: &Ev) -> Option<String> {
    let actor = &w.actors[ev.actor as usize];
    match &actor.ident {
        Ident::UserKey { key, .. } => Some(key.clone()),
        Ident::Service { .. } => None,
        Ident::ConsoleUser { .. } if APIS[ev.api as usize].kind == Kind::ConsoleLogin => None,
        _ => session(w, ev.actor, actor, ev).map(|s| String::from_utf8_lossy(&s.key).into_owned()),
    }
}

/// The `userIdentity.arn` of an event.
pub(crate) fn caller_arn_of(w: &World, ev: &Ev) -> String {
    let actor = &w.actors[ev.actor as usize];
    let c = Ctx {
        acct: &w.accounts[ev.account as usize],
        actor,
        api: &APIS[ev.api as usize],
        region: REGIONS[ev.region as usize],
        ev,
        session: session(w, ev.actor, actor, ev),
    };
    let mut v = Vec::new();
    c.push_caller_arn(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}
