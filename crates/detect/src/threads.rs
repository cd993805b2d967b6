//! The detectors on threads of their own, one each: every detector still sees every event in
//! time order, so its alerts are exactly those it gives on one thread, while the detectors (and
//! the decoding) share the cores. Batches of events are shared between them, not copied.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use trailhound_model::{Event, Timestamp};

use crate::{Alert, Detector};

/// Batches a detector may have waiting before the sender blocks: bounds the memory in flight.
const QUEUED_BATCHES: usize = 4;

/// A batch of events, shared by the detector threads.
type Batch = Arc<Vec<Event>>;

/// Alerts a detector handed on ([`Detector::drain`]) and not yet taken, with the time of the
/// last event it had seen then.
type Drained = Arc<Mutex<(Vec<Alert>, Timestamp)>>;

/// One detector's thread, which returns the detector when its channel closes.
struct Running {
    batches: SyncSender<Batch>,
    thread: JoinHandle<Box<dyn Detector>>,
    /// For a detector with a [`Detector::drain_delay`]: what it handed on.
    drained: Option<Drained>,
}

/// Detectors running on their own threads.
pub struct DetectorThreads {
    running: Vec<Running>,
}

impl DetectorThreads {
    /// Starts one thread per detector.
    pub fn start(detectors: Vec<Box<dyn Detector>>) -> Self {
        let running = detectors
            .into_iter()
            .map(|mut d| {
                let (tx, rx) = sync_channel::<Batch>(QUEUED_BATCHES);
                let drained: Option<Drained> = d
                    .drain_delay()
                    .map(|_| Arc::new(Mutex::new((Vec::new(), Timestamp::MIN))));
                let shared = drained.clone();
                let thread = std::thread::Builder::new()
                    .name(format!("trailhound-rule-{}", d.id()))
                    .spawn(move || {
                        for batch in rx {
                            for e in batch.iter() {
                                d.observe(e);
                            }
                            if let (Some(shared), Some(last)) = (&shared, batch.last()) {
                                let alerts = d.drain();
                                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                                s.0.extend(alerts);
                                s.1 = s.1.max(last.time);
                            }
                        }
                        d
                    })
                    .expect("spawn a detector thread");
                Running {
                    batches: tx,
                    thread,
                    drained,
                }
            })
            .collect();
        Self { running }
    }

    /// Hands a batch of events (in time order, after the previous batch) to every detector.
    pub fn observe(&self, batch: Batch) {
        for r in &self.running {
            // A detector thread ends only when its channel closes, or by a panic, which
            // `join` passes on.
            let _ = r.batches.send(Arc::clone(&batch));
        }
    }

    /// For the `i`th detector, if it has a [`Detector::drain_delay`]: the alerts it handed on
    /// since the last call, and the time of the last event it had seen then.
    pub fn drained(&self, i: usize) -> Option<(Vec<Alert>, Timestamp)> {
        let shared = self.running.get(i)?.drained.as_ref()?;
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        Some((std::mem::take(&mut s.0), s.1))
    }

    /// Waits until every detector has seen every batch; returns them, in the order given to
    /// [`DetectorThreads::start`], each with the alerts it handed on that were not taken yet.
    ///
    /// # Panics
    /// When a detector panicked (the panic is passed on).
    pub fn join(self) -> Vec<(Box<dyn Detector>, Vec<Alert>)> {
        self.running
            .into_iter()
            .map(|r| {
                drop(r.batches);
                let d = r
                    .thread
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                let left = r.drained.map_or_else(Vec::new, |s| {
                    std::mem::take(&mut s.lock().unwrap_or_else(|p| p.into_inner()).0)
                });
                (d, left)
            })
            .collect()
    }
}
