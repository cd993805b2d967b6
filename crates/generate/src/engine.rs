//! Scheduling background volume over the hours, generating each hour independently, and writing
//! the files in parallel.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;
use trailhound_geo::GeoIp;
use trailhound_model::SECOND;

use crate::catalog::{APIS, Kind, REGIONS, region_index};
use crate::layout::{self, period_of};
use crate::plan::{self, Plan};
use crate::render::{self, ERR_DENIED, ERR_NONE, ERR_THROTTLE, Ev, Templates};
use crate::rng::{self, Draw, domain};
use crate::time::{civil, iso, weekday};
use crate::world::{self, Actor, KeyUse, World};
use crate::{
    AccountInfo, GenerateConfig, KeyInfo, MIN_DAYS_FOR_SCENARIOS, Manifest, Progress, SourceIp,
};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Relative activity by local hour of day for people.
const OFFICE_HOURS: [u64; 24] = [
    1, 1, 1, 1, 1, 2, 3, 6, 10, 14, 15, 15, 12, 14, 15, 14, 12, 9, 6, 4, 3, 2, 2, 1,
];

/// Integer weight of an actor's activity in `[hs, hs + span)`.
fn actor_weight(a: &Actor, hs: i64, span: i64) -> u64 {
    let local = hs + a.tz * HOUR;
    let weekend = weekday(local) >= 5;
    let shape = if a.human {
        OFFICE_HOURS[civil(local).hour as usize] * if weekend { 2 } else { 10 }
    } else {
        8 * if weekend { 8 } else { 10 }
    };
    a.rate * shape * span as u64
}

/// How the background volume is spread over the hours.
struct Schedule {
    start: i64,
    end: i64,
    hour0: i64,
    hours: usize,
    days: i64,
    /// Cumulative weights: `cum[h]` = total weight of hours before `h`.
    cum: Vec<u128>,
    background: u64,
}

impl Schedule {
    fn span(&self, h: usize) -> (i64, i64) {
        let hs = self.hour0 + h as i64 * HOUR;
        (hs.max(self.start), (hs + HOUR).min(self.end))
    }

    /// Background events drawn in hour `h`: exact integer apportionment of the total.
    fn count(&self, h: usize) -> u64 {
        let total = *self.cum.last().unwrap_or(&0);
        if total == 0 {
            return 0;
        }
        let bg = u128::from(self.background);
        (bg * self.cum[h + 1] / total - bg * self.cum[h] / total) as u64
    }
}

/// When actor `ai` makes its daily call from its `j`-th address on day `d`.
fn heartbeat_time(w: &World, s: &Schedule, ai: usize, a: &Actor, j: usize, d: i64) -> i64 {
    let (_, local_hour) = a.heartbeat.expect("heartbeat");
    let utc_hour = (local_hour + 2 * j as i64 - a.tz).rem_euclid(24);
    let jitter = (rng::derive(
        w.seed,
        domain::HEARTBEAT,
        ai as u64,
        (d as u64) << 8 | j as u64,
    ) % 3600) as i64;
    let off = (utc_hour * HOUR + jitter - s.start.rem_euclid(DAY)).rem_euclid(DAY);
    s.start + d * DAY + off
}

fn heartbeat_event(w: &World, ai: usize, a: &Actor, j: usize, d: i64, t: i64) -> Ev {
    let (op, _) = a.heartbeat.expect("heartbeat");
    let region = if APIS[op as usize].svc.global() {
        region_index("us-east-1")
    } else {
        a.regions[0]
    };
    Ev {
        t,
        seed: rng::derive(
            w.seed,
            domain::HEARTBEAT,
            ai as u64 | 1 << 32,
            (d as u64) << 8 | j as u64,
        ),
        actor: ai as u16,
        api: op,
        addr: a.addrs[j],
        agent: a.agent,
        region,
        account: a.account,
        err: ERR_NONE,
        details: 0,
    }
}

/// All events of hour `h`, unsorted.
fn hour_events(w: &World, s: &Schedule, planted: &[Ev], h: usize) -> Vec<Ev> {
    let (hs, he) = s.span(h);
    let n = s.count(h);
    let mut evs = Vec::with_capacity(n as usize + 64);
    if he <= hs {
        return evs;
    }
    let lo = planted.partition_point(|e| e.t < hs);
    let hi = planted.partition_point(|e| e.t < he);
    evs.extend_from_slice(&planted[lo..hi]);

    // Daily successful calls of every AKIA key from each of its addresses.
    let d_first = ((hs - s.start) / DAY).max(0);
    let d_last = ((he - 1 - s.start) / DAY).min(s.days - 1);
    for (ai, a) in w.actors.iter().enumerate() {
        if a.heartbeat.is_none() {
            continue;
        }
        for j in 0..a.addrs.len() {
            for d in d_first..=d_last {
                let t = heartbeat_time(w, s, ai, a, j, d);
                if t >= hs && t < he {
                    evs.push(heartbeat_event(w, ai, a, j, d, t));
                }
            }
        }
    }

    // Background draws.
    if n == 0 {
        return evs;
    }
    let mut r = rng::stream(w.seed, domain::HOUR, h as u64);
    let cum = world::cumulative(w.actors.iter().map(|a| actor_weight(a, hs, he - hs)));
    let mut made = 0;
    while made < n {
        let ai = r.weighted(&cum);
        let a = &w.actors[ai];
        let size = match r.below(100) {
            0..55 => 1,
            55..80 => 2,
            80..92 => 3,
            _ => 4 + r.below(3),
        }
        .min(n - made);
        let mut t = hs + r.below((he - hs) as u64) as i64;
        let region = a.regions[r.weighted(&a.region_cum)];
        let addr = a.addrs[r.below(a.addrs.len() as u64) as usize];
        for _ in 0..size {
            let api = a.apis[r.weighted(&a.api_cum)];
            let def = &APIS[api as usize];
            let region = if def.svc.global() {
                region_index("us-east-1")
            } else {
                region
            };
            let roll = r.below(1_000_000) as u32;
            let err = if def.kind == Kind::ConsoleLogin {
                ERR_NONE
            } else if roll < a.err_ppm {
                let k = r.below(def.errs.len() as u64 + 1) as usize;
                if k == def.errs.len() {
                    ERR_THROTTLE
                } else {
                    k as u8 + 1
                }
            } else if a.access_key().is_none() && roll < a.err_ppm + a.denied_ppm {
                ERR_DENIED
            } else {
                ERR_NONE
            };
            evs.push(Ev {
                t,
                seed: r.bits(),
                actor: ai as u16,
                api,
                addr,
                agent: a.agent,
                region,
                account: a.account,
                err,
                details: 0,
            });
            t = (t + r.below(5) as i64).min(he - 1);
        }
        made += size;
    }
    evs
}

#[derive(Default, Clone, Copy)]
struct Stats {
    files: u64,
    events: u64,
    raw: u64,
    gz: u64,
}

impl std::ops::Add for Stats {
    type Output = Stats;
    fn add(self, o: Stats) -> Stats {
        Stats {
            files: self.files + o.files,
            events: self.events + o.events,
            raw: self.raw + o.raw,
            gz: self.gz + o.gz,
        }
    }
}

/// Generates and writes hour `h`.
fn write_hour(
    w: &World,
    tpl: &Templates,
    s: &Schedule,
    planted: &[Ev],
    h: usize,
    out_dir: &Path,
    level: u32,
) -> io::Result<Stats> {
    let mut evs = hour_events(w, s, planted, h);
    evs.sort_by_key(|e| (e.account, e.region, e.t));
    let mut stats = Stats::default();
    let mut json = Vec::with_capacity(1 << 20);
    let mut gz = Vec::with_capacity(1 << 18);
    let mut last_dir: Option<std::path::PathBuf> = None;
    // One raw deflate stream per hour, reset for each file: creating one per file costs more
    // than compressing a small file.
    let mut deflate = Compress::new(Compression::new(level), false);
    let mut i = 0;
    while i < evs.len() {
        let (account, region, period) = (evs[i].account, evs[i].region, period_of(evs[i].t));
        let mut j = i;
        json.clear();
        json.extend_from_slice(b"{\"Records\":[");
        while j < evs.len()
            && evs[j].account == account
            && evs[j].region == region
            && period_of(evs[j].t) == period
        {
            if j > i {
                json.push(b',');
            }
            render::render(&mut json, w, tpl, &evs[j]);
            j += 1;
        }
        json.extend_from_slice(b"]}");
        let rel = layout::file_rel(
            w.seed,
            account,
            &w.accounts[account as usize].id,
            REGIONS[region as usize],
            region,
            period,
        );
        let path = out_dir.join(&rel);
        let dir = path.parent().expect("files live in folders");
        if last_dir.as_deref() != Some(dir) {
            fs::create_dir_all(dir)?;
            last_dir = Some(dir.to_path_buf());
        }
        gzip(&mut deflate, level, &json, &mut gz)?;
        fs::write(&path, &gz)?;
        stats.files += 1;
        stats.events += (j - i) as u64;
        stats.raw += json.len() as u64;
        stats.gz += gz.len() as u64;
        i = j;
    }
    Ok(stats)
}

/// Writes `input` as a complete gzip member (RFC 1952) into `out`: a fixed header (no name, no
/// time, OS "unknown"), raw deflate, CRC-32 and length.
fn gzip(deflate: &mut Compress, level: u32, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let xfl = match level {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    };
    out.clear();
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    deflate.reset();
    loop {
        let consumed = deflate.total_in() as usize;
        if out.capacity() - out.len() < 4096 {
            out.reserve(input.len() / 2 + 4096);
        }
        match deflate
            .compress_vec(&input[consumed..], out, FlushCompress::Finish)
            .map_err(io::Error::other)?
        {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {}
        }
    }
    out.extend_from_slice(&crc32(input).to_le_bytes());
    out.extend_from_slice(&(input.len() as u32).to_le_bytes());
    Ok(())
}

/// CRC-32 (IEEE 802.3, reflected), slicing by 8.
fn crc32(data: &[u8]) -> u32 {
    const fn tables() -> [[u32; 256]; 8] {
        let mut t = [[0u32; 256]; 8];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[0][i] = c;
            i += 1;
        }
        let mut i = 0;
        while i < 256 {
            let mut s = 1;
            while s < 8 {
                let prev = t[s - 1][i];
                t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
                s += 1;
            }
            i += 1;
        }
        t
    }
    static T: [[u32; 256]; 8] = tables();
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = T[7][(lo & 0xff) as usize]
            ^ T[6][((lo >> 8) & 0xff) as usize]
            ^ T[5][((lo >> 16) & 0xff) as usize]
            ^ T[4][(lo >> 24) as usize]
            ^ T[3][(hi & 0xff) as usize]
            ^ T[2][((hi >> 8) & 0xff) as usize]
            ^ T[1][((hi >> 16) & 0xff) as usize]
            ^ T[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = T[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn key_info(w: &World, a: &Actor) -> Option<KeyInfo> {
    let key = a.access_key()?;
    let account = &w.accounts[a.account as usize].id;
    let usage = match a.key_use {
        KeyUse::Background | KeyUse::None => "background".to_owned(),
        KeyUse::Scenario => a.label.replacen("scenario ", "scenario:", 1),
        KeyUse::Decoy => a.label.replacen("decoy ", "decoy:", 1),
    };
    Some(KeyInfo {
        access_key_id: key.to_owned(),
        user_name: a.user_name().to_owned(),
        user_arn: a.arn(account),
        account_id: account.clone(),
        usage,
        archetype: a.archetype.to_owned(),
        home_country: a.home_country.clone().unwrap_or_default(),
        source_ips: a
            .addrs
            .iter()
            .map(|&i| SourceIp {
                ip: w.addrs[i as usize].clone(),
                country: w.addr_country[i as usize].clone(),
            })
            .collect(),
        user_agent: w.agents[a.agent as usize].clone(),
    })
}

pub(crate) fn run(
    cfg: &GenerateConfig,
    geo: &GeoIp,
    out_dir: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> io::Result<Manifest> {
    if cfg.days == 0 {
        return Err(invalid("--days must be at least 1".into()));
    }
    if cfg.days > 3660 {
        return Err(invalid("--days must be at most 3660".into()));
    }
    if cfg.keys > 5000 {
        return Err(invalid("--keys must be at most 5000".into()));
    }
    if cfg.compression_level > 9 {
        return Err(invalid("the compression level must be 0 to 9".into()));
    }
    if out_dir.exists() && fs::read_dir(out_dir)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is not empty: generate into a new or empty folder",
                out_dir.display()
            ),
        ));
    }

    let start = cfg.start.div_euclid(SECOND);
    let days = i64::from(cfg.days);
    let end = start + days * DAY;
    let mut warnings = Vec::new();
    let mut b = world::build(cfg.seed, cfg.keys, geo)?;
    let mut scenarios = cfg.scenarios.clone();
    scenarios.sort();
    scenarios.dedup();
    if !scenarios.is_empty() && cfg.days < MIN_DAYS_FOR_SCENARIOS {
        warnings.push(format!(
            "scenarios and decoys skipped: they need at least {MIN_DAYS_FOR_SCENARIOS} days (10 days of warm-up for D2/D3, 14 of lookback for D1), got {}",
            cfg.days
        ));
        scenarios.clear();
    }
    let Plan {
        planted,
        scenarios: scenario_entries,
        decoys,
    } = plan::plan(&mut b, &scenarios, start, end, days)?;
    let w = b.world;
    if w.actors.len() > usize::from(u16::MAX) || w.addrs.len() > usize::from(u16::MAX) {
        return Err(invalid("too many keys".into()));
    }

    // Volume: the daily calls and the planted events are fixed; the rest is drawn.
    let heartbeats: u64 = w
        .actors
        .iter()
        .filter(|a| a.heartbeat.is_some())
        .map(|a| a.addrs.len() as u64 * days as u64)
        .sum();
    let fixed = heartbeats + planted.len() as u64;
    if cfg.events < fixed {
        warnings.push(format!(
            "{} events requested, but the daily calls of the keys and the planted events alone are {fixed}",
            cfg.events
        ));
    }
    let hour0 = start.div_euclid(HOUR) * HOUR;
    let hours = ((end - hour0) + HOUR - 1).div_euclid(HOUR) as usize;
    let mut sched = Schedule {
        start,
        end,
        hour0,
        hours,
        days,
        cum: Vec::with_capacity(hours + 1),
        background: cfg.events.saturating_sub(fixed),
    };
    let mut acc: u128 = 0;
    sched.cum.push(0);
    for h in 0..hours {
        let (hs, he) = sched.span(h);
        acc += w
            .actors
            .iter()
            .map(|a| u128::from(actor_weight(a, hs, (he - hs).max(0))))
            .sum::<u128>();
        sched.cum.push(acc);
    }

    fs::create_dir_all(out_dir)?;
    let tpl = Templates::new();
    let done = AtomicU64::new(0);
    let events_done = AtomicU64::new(0);
    let bytes_done = AtomicU64::new(0);
    let level = cfg.compression_level;
    let stats = (0..sched.hours)
        .into_par_iter()
        .map(|h| {
            let st = write_hour(&w, &tpl, &sched, &planted, h, out_dir, level)?;
            let hours_done = done.fetch_add(1, Ordering::Relaxed) + 1;
            let events = events_done.fetch_add(st.events, Ordering::Relaxed) + st.events;
            let bytes = bytes_done.fetch_add(st.raw, Ordering::Relaxed) + st.raw;
            progress(Progress {
                hours_done,
                hours_total: sched.hours as u64,
                events,
                uncompressed_bytes: bytes,
            });
            Ok::<Stats, io::Error>(st)
        })
        .try_reduce(Stats::default, |a, b| Ok(a + b))?;
    debug_assert_eq!(stats.events, sched.background + fixed);

    let manifest = Manifest {
        generator: format!("trailhound-generate {}", env!("CARGO_PKG_VERSION")),
        format_version: 1,
        config: cfg.clone(),
        geoip: geo.description().to_owned(),
        start: iso(start),
        end: iso(end),
        files: stats.files,
        events: stats.events,
        background_events: stats.events - planted.len() as u64,
        planted_events: planted.len() as u64,
        uncompressed_bytes: stats.raw,
        compressed_bytes: stats.gz,
        accounts: w
            .accounts
            .iter()
            .map(|a| AccountInfo {
                account_id: a.id.clone(),
                alias: a.alias.clone(),
                regions: a
                    .regions
                    .iter()
                    .map(|&r| REGIONS[r as usize].to_owned())
                    .collect(),
            })
            .collect(),
        keys: w.actors.iter().filter_map(|a| key_info(&w, a)).collect(),
        scenarios: scenario_entries,
        decoys,
        warnings,
    };
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    text.push(b'\n');
    fs::write(out_dir.join("manifest.json"), text)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let mut c = flate2::Crc::new();
        c.update(&data);
        assert_eq!(crc32(&data), c.sum());
    }

    #[test]
    fn gzip_members_decode() {
        use std::io::Read;
        let input: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut deflate = Compress::new(Compression::new(6), false);
        let mut out = Vec::new();
        for _ in 0..2 {
            gzip(&mut deflate, 6, &input, &mut out).unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(out.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
        }
    }
}
