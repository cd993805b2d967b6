//! The detectors on threads of their own, one each: every detector still sees every event in
//! time order, so its alerts are exactly those it gives on one thread, while the detectors (and
//! the decoding) share the cores. Batches of events are shared between them, not copied.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use trailhound_model::Event;

use crate::Detector;

/// Batches a detector may have waiting before the sender blocks: bounds the memory in flight.
const QUEUED_BATCHES: usize = 4;

/// A batch of events, shared by the detector threads.
type Batch = Arc<Vec<Event>>;

/// One detector's thread, which returns the detector when its channel closes.
struct Running {
    batches: SyncSender<Batch>,
    thread: JoinHandle<Box<dyn Detector>>,
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
                let handle = std::thread::Builder::new()
                    .name(format!("trailhound-rule-{}", d.id()))
                    .spawn(move || {
                        for batch in rx {
                            for e in batch.iter() {
                                d.observe(e);
                            }
                        }
                        d
                    })
                    .expect("spawn a detector thread");
                Running {
                    batches: tx,
                    thread: handle,
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

    /// Waits until every detector has seen every batch; returns them, in the order given to
    /// [`DetectorThreads::start`], for `finish` and the rest.
    ///
    /// # Panics
    /// When a detector panicked (the panic is passed on).
    pub fn join(self) -> Vec<Box<dyn Detector>> {
        self.running
            .into_iter()
            .map(|r| {
                drop(r.batches);
                r.thread
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
            .collect()
    }
}
