//! The durable spool: an append-only, checksummed, fsync'd log of events JetStream has not
//! acknowledged, in segment files under a directory, replayed in order once JetStream answers.
//!
//! A record is `len: u32 LE | crc32c(body): u32 LE | body`, where the body is
//! `spooled_at_ms: i64 LE | event id: 16 bytes | subject length: u16 LE | subject | payload`.
//! Appends go to the newest segment (one fsync per [`Spool::append`] call, however many
//! records it holds), whose file is extended ahead of its records in steps of 1 MiB, so that
//! the fsync does not also commit a size change; a zero header marks where a segment's records
//! end. A restart always starts a new segment, so a torn tail left by a crash is never appended
//! to. Reading skips a record whose checksum fails and the rest of a segment whose framing is
//! broken, counting both, never failing.
//!
//! Replay reads a window from the cursor ([`Spool::read`]) and, once all of it is acknowledged,
//! [`Spool::commit`]s it. Records not yet shipped are also kept in memory (up to
//! [`SpoolConfig::memory_bytes`]): a window that starts at the first of them is served from
//! memory, so a log shipped as it is written is never read back from disk; anything older (after
//! a restart, or once the memory tail overflowed) is read from the segments.
//!
//! Committing a window moves the cursor; segments wholly behind it are deleted, and a drained
//! active segment is emptied in place. Each commit also writes the cursor to the `cursor` file (not
//! fsync'd), so a restart resumes where shipping stopped instead of from the oldest segment's
//! start. A crash between the acks and the commit (or before the cursor file reached the
//! disk) replays that window again, with the same message ids (JetStream's duplicate window and
//! the consumers' event-id checks drop the second copy).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use uuid::Uuid;

/// Frame header: length and checksum.
const HEADER: usize = 8;
/// Body bytes before the subject: time, event id, subject length.
const BODY_FIXED: usize = 8 + 16 + 2;
/// Largest body a reader accepts; anything longer is broken framing.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// A drained active segment is emptied in place once it holds this many bytes.
const RECYCLE_BYTES: u64 = 1024 * 1024;
/// The active segment's file is extended ahead of its records by this much at a time, so an
/// append's `fdatasync` does not also have to commit a new file size (on ext4 here: 0.10 ms
/// instead of 0.15 ms p50). The space past the records reads as zeros, which end a segment.
const PREALLOCATE_BYTES: u64 = 1024 * 1024;
/// Segment file suffix.
const SUFFIX: &str = ".spool";
/// Written and removed again to learn whether a failing disk takes writes again.
const PROBE_FILE: &str = "probe";
/// File of the events JetStream refused for good (JSON lines), beside the segments.
pub const SET_ASIDE_FILE: &str = "set-aside.jsonl";
/// The replay cursor: segment and offset (u64 LE each) and their crc32c (u32 LE).
const CURSOR_FILE: &str = "cursor";

/// Where and how much the spool keeps.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Directory of the segment files (created if missing).
    pub dir: PathBuf,
    /// Most bytes on disk; an append beyond it is refused.
    pub max_bytes: u64,
    /// A segment is closed and a new one started once it holds this many bytes.
    pub segment_bytes: u64,
    /// Most bytes of records not yet shipped also kept in memory, so shipping them does not
    /// read them back from disk (0: none).
    pub memory_bytes: u64,
}

impl SpoolConfig {
    /// A spool under `dir` of at most `max_bytes`, in segments of up to 8 MiB.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
            segment_bytes: (8 * 1024 * 1024).min(max_bytes.max(1)),
            memory_bytes: 2 * 1024 * 1024,
        }
    }
}

/// One spooled event, ready to be published again as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledEvent {
    /// Event id, sent as `Nats-Msg-Id`.
    pub event_id: Uuid,
    /// Subject to publish on.
    pub subject: String,
    /// Encoded event.
    pub payload: Bytes,
    /// Unix milliseconds when it was spooled.
    pub spooled_at_ms: i64,
}

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The append would exceed the spool's size bound; nothing of it was written.
    #[error("the spool is full ({bytes} of {max_bytes} bytes)")]
    Full {
        /// Bytes on disk.
        bytes: u64,
        /// The bound.
        max_bytes: u64,
    },
    /// Another process holds the spool directory.
    #[error("the spool directory is in use by another process")]
    Locked,
    /// The disk refused.
    #[error("spool I/O: {0}")]
    Io(#[from] io::Error),
}

/// Where replay stands: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    segment: u64,
    offset: u64,
}

/// Where an append put its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Cursor at the first record.
    pub start: Cursor,
    /// Cursor past the last record.
    pub end: Cursor,
}

/// One record kept in memory: where it starts and ends in the log, and the record.
#[derive(Debug)]
struct TailRecord {
    start: Cursor,
    end: Cursor,
    event: SpooledEvent,
}

/// Records read from the cursor, and the cursor after them.
#[derive(Debug)]
pub struct Window {
    /// The records, in spool order.
    pub events: Vec<SpooledEvent>,
    /// Cursor past the last record (and past any skipped corruption).
    pub end: Cursor,
}

/// Prometheus metrics of the spool (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct SpoolMetrics {
    depth: Gauge,
    bytes: Gauge,
    oldest_age_seconds: Gauge,
    full: Gauge,
    appended: Counter,
    replayed: Counter,
    corrupt: Counter,
    fsyncs: Counter,
}

impl SpoolMetrics {
    /// Registers the metrics under `tollgate_spool_*`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("tollgate_spool");
        r.register(
            "depth",
            "Events in the spool not yet replayed",
            self.depth.clone(),
        );
        r.register(
            "bytes",
            "Bytes of records in the spool segments on disk",
            self.bytes.clone(),
        );
        r.register(
            "oldest_age_seconds",
            "Age of the oldest event waiting in the spool",
            self.oldest_age_seconds.clone(),
        );
        r.register(
            "full",
            "1 while the spool is too full to take new requests",
            self.full.clone(),
        );
        r.register(
            "appended",
            "Events written to the spool",
            self.appended.clone(),
        );
        r.register(
            "replayed",
            "Spooled events acknowledged by JetStream",
            self.replayed.clone(),
        );
        r.register(
            "corrupt_records",
            "Torn or corrupt spool records skipped",
            self.corrupt.clone(),
        );
        r.register(
            "fsyncs",
            "Group commits (one fsync each)",
            self.fsyncs.clone(),
        );
    }

    /// Events waiting in the spool.
    pub fn depth(&self) -> i64 {
        self.depth.get()
    }

    /// Spooled events replayed so far.
    pub fn replayed(&self) -> u64 {
        self.replayed.get()
    }

    /// Corrupt or torn records skipped so far.
    pub fn corrupt(&self) -> u64 {
        self.corrupt.get()
    }
}

/// The spool. Clones share it; every call blocks on file I/O (call it off the async runtime).
#[derive(Debug, Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SpoolConfig,
    metrics: SpoolMetrics,
    state: Mutex<State>,
    /// `State::depth` and fullness as of the last change, read without the lock (the request
    /// path asks on every request; the lock is held across writes, fsyncs and reads).
    depth: AtomicU64,
    full: AtomicBool,
    /// Holds the directory's lock for as long as the spool is open.
    _lock: File,
}

#[derive(Debug)]
struct State {
    /// Segment numbers on disk, oldest first; the last is the one appended to.
    segments: Vec<u64>,
    /// Bytes of records in each segment, in the order of `segments` (the active segment's file
    /// is longer: see `allocated`).
    sizes: Vec<u64>,
    writer: File,
    /// Length of the active segment's file: its records, then zeros up to here.
    allocated: u64,
    /// Where the cursor is written on every commit.
    checkpoint: File,
    cursor: Cursor,
    /// Records after the cursor.
    depth: u64,
    /// When the record at the cursor was spooled (unix ms), if known.
    oldest_ms: Option<i64>,
    /// The last append failed part-way: the next one starts a new segment.
    torn: bool,
    /// An append was refused for room since the last replay.
    refused: bool,
    /// The last append failed on the disk (I/O error, disk full): until one succeeds the
    /// spool counts as full, so new requests get a fast 503 instead of waiting on it.
    failing: bool,
    /// Records not yet shipped, in log order, as far as `SpoolConfig::memory_bytes` allows (with
    /// gaps where the tail was full).
    tail: std::collections::VecDeque<TailRecord>,
    /// Bytes held by `tail` (see [`tail_size`]).
    tail_bytes: u64,
}

impl State {
    fn bytes(&self) -> u64 {
        self.sizes.iter().sum()
    }

    /// Bytes not yet replayed: what counts toward the bound (a segment already read up to the
    /// cursor is kept until it rolls, and its read part takes no room).
    fn pending_bytes(&self) -> u64 {
        let read = match self.segments.first() {
            Some(&first) if first == self.cursor.segment => self.cursor.offset,
            _ => 0,
        };
        self.bytes().saturating_sub(read)
    }

    fn active(&self) -> u64 {
        self.segments.last().copied().unwrap_or(0)
    }

    /// Where the next append goes: the end of the active segment.
    fn log_end(&self) -> Cursor {
        Cursor {
            segment: self.active(),
            offset: self.sizes.last().copied().unwrap_or(0),
        }
    }

    /// Starts a new segment to append to.
    fn roll(&mut self, dir: &Path) -> io::Result<()> {
        let next = self.active() + 1;
        self.writer = create_segment(dir, next)?;
        self.segments.push(next);
        self.sizes.push(0);
        self.allocated = 0;
        self.torn = false;
        Ok(())
    }

    /// Extends the active segment's file (with zeros, a hole on disk) to hold at least `end`
    /// bytes, by `step` at a time.
    fn preallocate(&mut self, end: u64, step: u64) -> io::Result<()> {
        if end > self.allocated {
            let len = end.max(self.allocated + step);
            self.writer.set_len(len)?;
            self.allocated = len;
        }
        Ok(())
    }

    /// Moves the cursor past segments it has read to the end.
    fn step_past_read_segments(&mut self) {
        self.cursor = self.next_unread(self.cursor);
    }

    /// `cursor`, or the start of the next segment where `cursor` is at the end of its own.
    fn next_unread(&self, mut cursor: Cursor) -> Cursor {
        while let Some(i) = self.segments.iter().position(|&s| s == cursor.segment) {
            if i + 1 < self.segments.len() && cursor.offset >= self.sizes[i] {
                cursor = Cursor {
                    segment: self.segments[i + 1],
                    offset: 0,
                };
            } else {
                break;
            }
        }
        cursor
    }

    /// Up to `max` records from the cursor out of the memory tail, if it holds the record at
    /// the cursor (and then those after it, up to the first gap).
    fn read_tail(&self, max: usize) -> Option<Window> {
        let cursor = self.next_unread(self.cursor);
        let first = self.tail.partition_point(|r| r.start < cursor);
        if self.tail.get(first)?.start != cursor {
            return None;
        }
        let mut end = cursor;
        let mut events = Vec::new();
        for record in self.tail.iter().skip(first).take(max) {
            if record.start != end {
                break;
            }
            events.push(record.event.clone());
            end = record.end;
        }
        Some(Window { events, end })
    }

    /// Keeps `events`, just written from `start` (record `i` ends at offset `ends[i]` of the same
    /// segment), in the memory tail while it has room (a record that does not fit leaves a gap,
    /// which is read from disk).
    fn remember(&mut self, events: &[SpooledEvent], ends: &[u64], start: Cursor, budget: u64) {
        let mut at = start;
        for (event, &end) in events.iter().zip(ends) {
            let end = Cursor {
                segment: start.segment,
                offset: end,
            };
            let bytes = tail_size(event);
            if self.tail_bytes + bytes <= budget {
                self.tail_bytes += bytes;
                self.tail.push_back(TailRecord {
                    start: at,
                    end,
                    event: event.clone(),
                });
            }
            at = end;
        }
    }

    /// Forgets the tail records before `end`.
    fn forget_before(&mut self, end: Cursor) {
        while self.tail.front().is_some_and(|r| r.end <= end) {
            if let Some(record) = self.tail.pop_front() {
                self.tail_bytes -= tail_size(&record.event);
            }
        }
    }
}

impl Spool {
    /// Opens the spool under `config.dir`: counts what earlier runs left (skipping corrupt
    /// records) and starts a new segment to append to.
    pub fn open(config: SpoolConfig, metrics: SpoolMetrics) -> Result<Self, SpoolError> {
        std::fs::create_dir_all(&config.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(config.dir.join("LOCK"))?;
        lock.try_lock().map_err(|err| match err {
            std::fs::TryLockError::WouldBlock => SpoolError::Locked,
            std::fs::TryLockError::Error(err) => SpoolError::Io(err),
        })?;
        let mut segments: Vec<u64> = std::fs::read_dir(&config.dir)?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_suffix(SUFFIX)?.parse().ok()
            })
            .collect();
        segments.sort_unstable();
        let checkpoint = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(config.dir.join(CURSOR_FILE))?;
        // Resume where the last run's shipping stopped, if its cursor names a segment still here
        // (segments before it were shipped: a crash came between the commit and their removal).
        let resumed = read_cursor(&checkpoint).filter(|c| {
            segments.contains(&c.segment)
                && std::fs::metadata(segment_path(&config.dir, c.segment))
                    .is_ok_and(|m| c.offset <= m.len())
        });
        if let Some(resumed) = resumed {
            for &shipped in segments.iter().filter(|&&s| s < resumed.segment) {
                std::fs::remove_file(segment_path(&config.dir, shipped))?;
            }
            segments.retain(|&s| s >= resumed.segment);
        }
        let mut sizes = Vec::with_capacity(segments.len() + 1);
        let mut depth = 0;
        let mut oldest_ms = None;
        for &segment in &segments {
            let path = segment_path(&config.dir, segment);
            let from = resumed
                .filter(|c| c.segment == segment)
                .map_or(0, |c| c.offset);
            // To the file's end (`scan` stops there).
            let scan = scan(&path, from, usize::MAX, u64::MAX, &metrics)?;
            // Where its records end (before the zeros it was extended with, or broken framing).
            sizes.push(scan.records_end);
            depth += scan.events.len() as u64;
            oldest_ms = oldest_ms.or(scan.events.first().map(|e| e.spooled_at_ms));
        }
        let next = segments.last().map_or(1, |last| last + 1);
        let writer = create_segment(&config.dir, next)?;
        segments.push(next);
        sizes.push(0);
        let cursor = resumed.unwrap_or(Cursor {
            segment: segments[0],
            offset: 0,
        });
        let state = State {
            segments,
            sizes,
            writer,
            checkpoint,
            allocated: 0,
            cursor,
            depth,
            oldest_ms,
            torn: false,
            refused: false,
            failing: false,
            tail: std::collections::VecDeque::new(),
            tail_bytes: 0,
        };
        let spool = Self {
            inner: Arc::new(Inner {
                config,
                metrics,
                state: Mutex::new(state),
                depth: AtomicU64::new(0),
                full: AtomicBool::new(false),
                _lock: lock,
            }),
        };
        spool.publish_gauges(&spool.lock());
        Ok(spool)
    }

    /// Appends `events` and fsyncs once. All or nothing: a refused append writes none of them.
    /// Returns where they went.
    pub fn append(&self, events: &[SpooledEvent]) -> Result<Appended, SpoolError> {
        let mut buffer = Vec::new();
        // Offset of each record's end within the buffer.
        let mut ends = Vec::with_capacity(events.len());
        for event in events {
            encode(event, &mut buffer);
            ends.push(buffer.len() as u64);
        }
        let mut state = self.lock();
        if events.is_empty() {
            let at = state.log_end();
            return Ok(Appended { start: at, end: at });
        }
        let bytes = state.pending_bytes();
        let max_bytes = self.inner.config.max_bytes;
        if bytes + buffer.len() as u64 > max_bytes {
            state.refused = true;
            self.publish_gauges(&state);
            return Err(SpoolError::Full { bytes, max_bytes });
        }
        let roll = state.torn
            || state.sizes.last().copied().unwrap_or(0) >= self.inner.config.segment_bytes;
        if roll && let Err(err) = state.roll(&self.inner.config.dir) {
            state.failing = true;
            self.publish_gauges(&state);
            return Err(err.into());
        }
        let start = state.log_end();
        let step = PREALLOCATE_BYTES
            .min(self.inner.config.segment_bytes)
            .max(1);
        let written = state
            .preallocate(start.offset + buffer.len() as u64, step)
            .and_then(|()| state.writer.write_all_at(&buffer, start.offset))
            .and_then(|()| state.writer.sync_data());
        state.failing = written.is_err();
        if let Err(err) = written {
            // What reached the file may be a torn record: readers skip it (and the zeros after
            // it), writers move on to a new segment. Only what this append could have written
            // counts, not the zeros the file was extended with.
            if let Some(last) = state.sizes.last_mut() {
                *last = (*last).max(start.offset + buffer.len() as u64);
            }
            state.torn = true;
            self.publish_gauges(&state);
            return Err(err.into());
        }
        let end = Cursor {
            segment: start.segment,
            offset: start.offset + buffer.len() as u64,
        };
        if let Some(last) = state.sizes.last_mut() {
            *last = end.offset;
        }
        for end in &mut ends {
            *end += start.offset;
        }
        state.remember(events, &ends, start, self.inner.config.memory_bytes);
        state.depth += events.len() as u64;
        state.oldest_ms = state.oldest_ms.or(Some(events[0].spooled_at_ms));
        self.inner.metrics.appended.inc_by(events.len() as u64);
        self.inner.metrics.fsyncs.inc();
        self.publish_gauges(&state);
        Ok(Appended { start, end })
    }

    /// Keeps `event`, which JetStream refused for good, in `set-aside.jsonl` beside the
    /// segments (one JSON line with the reason, fsync'd) so it is neither lost nor replayed.
    /// An operator can inspect it, fix it and publish it again by hand.
    pub fn set_aside(&self, event: &SpooledEvent, reason: &str) -> Result<(), SpoolError> {
        let line = serde_json::json!({
            "event_id": event.event_id,
            "subject": event.subject,
            "reason": reason,
            "set_aside_at_ms": chrono::Utc::now().timestamp_millis(),
            "payload": String::from_utf8_lossy(&event.payload),
        });
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        // Under the spool's lock: one writer of the directory at a time.
        let state = self.lock();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.inner.config.dir.join(SET_ASIDE_FILE))?;
        file.write_all(&bytes)?;
        file.sync_data()?;
        drop(state);
        tracing::error!(
            event_id = %event.event_id,
            subject = %event.subject,
            bytes = event.payload.len(),
            reason,
            "JetStream refused the event for good; set aside in the spool directory"
        );
        Ok(())
    }

    /// Up to `max` records from the cursor, in order (the cursor itself does not move).
    pub fn read(&self, max: usize) -> Result<Window, SpoolError> {
        let state = self.lock();
        if let Some(window) = state.read_tail(max) {
            return Ok(window);
        }
        let mut cursor = state.cursor;
        let mut events = Vec::new();
        for (&segment, &size) in state.segments.iter().zip(&state.sizes) {
            if segment < cursor.segment {
                continue;
            }
            let offset = if segment == cursor.segment {
                cursor.offset
            } else {
                0
            };
            let path = segment_path(&self.inner.config.dir, segment);
            let scan = scan(&path, offset, max - events.len(), size, &self.inner.metrics)?;
            events.extend(scan.events);
            cursor = Cursor {
                segment,
                offset: scan.end,
            };
            if events.len() >= max || scan.end < size {
                break;
            }
        }
        Ok(Window {
            events,
            end: cursor,
        })
    }

    /// Marks everything before `end` (a window's end) as replayed: moves the cursor and deletes
    /// the segments behind it. `replayed` is how many records the window held.
    pub fn commit(&self, end: Cursor, replayed: usize) -> Result<(), SpoolError> {
        let mut state = self.lock();
        if end <= state.cursor {
            return Ok(());
        }
        state.cursor = end;
        state.forget_before(end);
        state.refused = false;
        state.depth = state.depth.saturating_sub(replayed as u64);
        self.inner.metrics.replayed.inc_by(replayed as u64);
        let dir = self.inner.config.dir.clone();
        state.step_past_read_segments();
        let active_size = state.sizes.last().copied().unwrap_or(0);
        let recycle_at = RECYCLE_BYTES.min(self.inner.config.segment_bytes).max(1);
        if state.depth == 0
            && state.cursor.segment == state.active()
            && state.cursor.offset >= recycle_at
            && state.cursor.offset >= active_size
        {
            // Drained: empty the segment in place (appends go to its end, which is now 0). A
            // log shipped as it is written drains after nearly every append; it is emptied once
            // it holds `RECYCLE_BYTES` (a truncation per commit cost more than the commit itself,
            // and the next append would have to allocate the blocks again).
            state.writer.set_len(0)?;
            state.allocated = 0;
            if let Some(last) = state.sizes.last_mut() {
                *last = 0;
            }
            state.cursor.offset = 0;
            // Everything appended is committed, so `forget_before` emptied the tail already.
            debug_assert!(state.tail.is_empty() && state.tail_bytes == 0);
            // Offsets are reused from here: a stale cursor on disk after a power loss could
            // name the middle of a new record, so this cursor is made durable before any append.
            write_cursor(&state.checkpoint, state.cursor)?;
            state.checkpoint.sync_data()?;
        }
        let cursor = state.cursor;
        write_cursor(&state.checkpoint, cursor)?;
        while state.segments.len() > 1 && state.segments[0] < cursor.segment {
            let segment = state.segments.remove(0);
            state.sizes.remove(0);
            std::fs::remove_file(segment_path(&dir, segment))?;
        }
        let cursor_at = state.next_unread(cursor);
        state.oldest_ms = if state.depth == 0 {
            None
        } else if let Some(front) = state.tail.front().filter(|r| r.start == cursor_at) {
            Some(front.event.spooled_at_ms)
        } else {
            let segment_path = segment_path(&dir, cursor.segment);
            let size = state
                .segments
                .iter()
                .position(|&s| s == cursor.segment)
                .map_or(0, |i| state.sizes[i]);
            scan(
                &segment_path,
                cursor.offset,
                1,
                size,
                &SpoolMetrics::default(),
            )?
            .events
            .first()
            .map(|e| e.spooled_at_ms)
            .or(state.oldest_ms)
        };
        self.publish_gauges(&state);
        Ok(())
    }

    /// Events waiting to be replayed.
    pub fn depth(&self) -> u64 {
        self.inner.depth.load(Ordering::Acquire)
    }

    /// Whether the spool is too full to take new requests: within 1/16 of its bound (the rest
    /// is left for the events of requests already in flight), an append was refused since
    /// the last replay, or the last append failed on the disk.
    pub fn is_full(&self) -> bool {
        self.inner.full.load(Ordering::Acquire)
    }

    fn full(&self, state: &State) -> bool {
        let max = self.inner.config.max_bytes;
        state.refused || state.failing || state.pending_bytes() + max / 16 >= max
    }

    /// While the last append failed on the disk: tries a small write and fsync beside the
    /// segments and, if the disk takes it, stops counting the spool as full (called
    /// periodically by the publisher, so readiness recovers even when nothing needs spooling).
    pub fn probe_if_failing(&self) {
        let mut state = self.lock();
        if !state.failing {
            return;
        }
        let path = self.inner.config.dir.join(PROBE_FILE);
        let probed = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"probe").and_then(|()| file.sync_data()))
            .and_then(|()| std::fs::remove_file(&path));
        if probed.is_ok() {
            state.failing = false;
            self.publish_gauges(&state);
        }
    }

    /// Refreshes the age gauge (called periodically by the publisher).
    pub fn refresh_age(&self, now_ms: i64) {
        let state = self.lock();
        let age = state.oldest_ms.map_or(0, |t| (now_ms - t).max(0) / 1000);
        self.inner.metrics.oldest_age_seconds.set(age);
    }

    /// Publishes the state's depth and fullness (atomics and gauges); called after every change.
    fn publish_gauges(&self, state: &State) {
        let full = self.full(state);
        self.inner.depth.store(state.depth, Ordering::Release);
        self.inner.full.store(full, Ordering::Release);
        let metrics = &self.inner.metrics;
        metrics
            .depth
            .set(i64::try_from(state.depth).unwrap_or(i64::MAX));
        let bytes = state.bytes();
        metrics.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        metrics.full.set(i64::from(full));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state: sizes only grow.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a record kept in the memory tail counts against its bound.
fn tail_size(event: &SpooledEvent) -> u64 {
    (event.payload.len() + event.subject.len() + std::mem::size_of::<TailRecord>()) as u64
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}{SUFFIX}"))
}

/// Writes `cursor` to the checkpoint file in place (20 bytes; not fsync'd: a stale cursor only
/// ships a window again).
fn write_cursor(file: &File, cursor: Cursor) -> io::Result<()> {
    let mut bytes = [0u8; 20];
    bytes[..8].copy_from_slice(&cursor.segment.to_le_bytes());
    bytes[8..16].copy_from_slice(&cursor.offset.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..16]);
    bytes[16..].copy_from_slice(&crc.to_le_bytes());
    file.write_all_at(&bytes, 0)
}

/// The cursor in the checkpoint file, unless it is missing or torn.
fn read_cursor(file: &File) -> Option<Cursor> {
    let mut bytes = [0u8; 20];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let crc = u32::from_le_bytes(bytes[16..].try_into().ok()?);
    (crc32c::crc32c(&bytes[..16]) == crc).then(|| Cursor {
        segment: u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()),
        offset: u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()),
    })
}

fn create_segment(dir: &Path, segment: u64) -> io::Result<File> {
    // Written at offsets (`write_all_at`): the file runs ahead of its records.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(segment_path(dir, segment))?;
    // The new name must survive a crash too.
    File::open(dir)?.sync_all()?;
    Ok(file)
}

fn encode(event: &SpooledEvent, out: &mut Vec<u8>) {
    let subject = event.subject.as_bytes();
    let subject_len = u16::try_from(subject.len()).unwrap_or(u16::MAX);
    let subject = &subject[..usize::from(subject_len)];
    let body_len = BODY_FIXED + subject.len() + event.payload.len();
    let start = out.len();
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&event.spooled_at_ms.to_le_bytes());
    out.extend_from_slice(event.event_id.as_bytes());
    out.extend_from_slice(&subject_len.to_le_bytes());
    out.extend_from_slice(subject);
    out.extend_from_slice(&event.payload);
    let crc = crc32c::crc32c(&out[start + HEADER..]);
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn decode(body: &[u8]) -> Option<SpooledEvent> {
    let spooled_at_ms = i64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let event_id = Uuid::from_slice(body.get(8..24)?).ok()?;
    let subject_len = usize::from(u16::from_le_bytes(body.get(24..26)?.try_into().ok()?));
    let subject = std::str::from_utf8(body.get(26..26 + subject_len)?).ok()?;
    let payload = body.get(26 + subject_len..)?;
    Some(SpooledEvent {
        event_id,
        subject: subject.to_owned(),
        payload: Bytes::copy_from_slice(payload),
        spooled_at_ms,
    })
}

struct Scan {
    events: Vec<SpooledEvent>,
    /// Offset after the last record read or skipped; `len` where the segment's records ended.
    end: u64,
    /// Offset after the last record read or skipped.
    records_end: u64,
}

/// Reads up to `max` records of one segment from `offset`, up to `len` bytes in or the file's
/// end, whichever comes first. A record failing its checksum is skipped. A zero header (the
/// file was extended ahead of its records) or broken framing (a torn tail, counted) ends the
/// segment: `end` is then that limit.
fn scan(
    path: &Path,
    offset: u64,
    max: usize,
    len: u64,
    metrics: &SpoolMetrics,
) -> io::Result<Scan> {
    let mut file = File::open(path)?;
    // Never past the file's end, whatever the caller recorded.
    let len = len.min(file.metadata()?.len());
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    let mut events = Vec::new();
    let mut at = offset;
    let mut header = [0u8; HEADER];
    while events.len() < max && at < len {
        let remaining = len - at;
        let ended = |events| Scan {
            events,
            end: len,
            records_end: at,
        };
        if remaining < HEADER as u64 {
            let mut rest = vec![0u8; remaining as usize];
            reader.read_exact(&mut rest)?;
            if rest.iter().any(|&b| b != 0) {
                metrics.corrupt.inc();
            }
            return Ok(ended(events));
        }
        reader.read_exact(&mut header)?;
        if header == [0; HEADER] {
            // The zeros the file was extended with: no more records. Anything but zeros in the
            // next 4 KiB means records were zeroed (a damaged disk), which is counted.
            let mut next = vec![0u8; (remaining - HEADER as u64).min(4096) as usize];
            reader.read_exact(&mut next)?;
            if next.iter().any(|&b| b != 0) {
                metrics.corrupt.inc();
            }
            return Ok(ended(events));
        }
        let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if !(BODY_FIXED..=MAX_BODY).contains(&body_len) || (body_len + HEADER) as u64 > remaining {
            metrics.corrupt.inc();
            return Ok(ended(events));
        }
        let mut body = vec![0u8; body_len];
        reader.read_exact(&mut body)?;
        at += (HEADER + body_len) as u64;
        match decode(&body).filter(|_| crc32c::crc32c(&body) == crc) {
            Some(event) => events.push(event),
            None => {
                metrics.corrupt.inc();
            }
        }
    }
    Ok(Scan {
        events,
        end: at,
        records_end: at,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn event(n: u32) -> SpooledEvent {
        SpooledEvent {
            event_id: Uuid::now_v7(),
            subject: format!("t.v1.{n}.usage.recorded"),
            payload: Bytes::from(format!("{{\"n\":{n}}}")),
            spooled_at_ms: 1_700_000_000_000 + i64::from(n),
        }
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("tollgate-spool-{}", Uuid::new_v4()))
    }

    /// A spool that reads everything back from disk (no memory tail).
    fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> (Spool, SpoolMetrics) {
        open_with_tail(dir, max_bytes, segment_bytes, 0)
    }

    fn open_with_tail(
        dir: &Path,
        max_bytes: u64,
        segment_bytes: u64,
        memory_bytes: u64,
    ) -> (Spool, SpoolMetrics) {
        let metrics = SpoolMetrics::default();
        let config = SpoolConfig {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            memory_bytes,
        };
        (Spool::open(config, metrics.clone()).unwrap(), metrics)
    }

    fn drain(spool: &Spool) -> Vec<SpooledEvent> {
        let mut all = Vec::new();
        loop {
            let window = spool.read(7).unwrap();
            if window.events.is_empty() {
                return all;
            }
            spool.commit(window.end, window.events.len()).unwrap();
            all.extend(window.events);
        }
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "spool"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_restart_resumes_where_shipping_stopped_and_a_drained_log_stays_small() {
        let dir = dir();
        let events: Vec<_> = (0..10).map(event).collect();
        {
            // Segments of 300 bytes: six records fill one, two do not.
            let (spool, _) = open(&dir, 1 << 20, 300);
            spool.append(&events[..6]).unwrap();
            let window = spool.read(6).unwrap();
            spool.commit(window.end, 6).unwrap();
            // Drained and full: the segment is emptied in place (its blocks freed), not
            // replaced by a new file.
            let files = segment_files(&dir);
            assert_eq!(files.len(), 1);
            assert_eq!(std::fs::metadata(&files[0]).unwrap().blocks(), 0);
            let appended = spool.append(&events[6..8]).unwrap();
            let window = spool.read(2).unwrap();
            spool.commit(window.end, 2).unwrap();
            // Drained but small: kept as it is (only the cursor moves).
            let files = segment_files(&dir);
            assert_eq!(files.len(), 1);
            let bytes = std::fs::read(&files[0]).unwrap();
            assert_eq!(appended.start.offset, 0);
            assert!(bytes.len() as u64 > appended.end.offset, "extended ahead");
            assert!(
                bytes[..appended.end.offset as usize]
                    .iter()
                    .any(|&b| b != 0)
            );
            spool.append(&events[8..]).unwrap();
        }
        // Eight shipped, two not: only those two come back.
        let (spool, _) = open(&dir, 1 << 20, 300);
        assert_eq!(spool.depth(), 2);
        assert_eq!(drain(&spool), events[8..].to_vec());
        drop(spool);
        let (spool, _) = open(&dir, 1 << 20, 1 << 20);
        assert_eq!(spool.depth(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_segment_extended_ahead_of_its_records_reopens_at_its_records_end() {
        let dir = dir();
        let events: Vec<_> = (0..6).map(event).collect();
        {
            // A bound of 4 KiB, segments of 1 MiB: the file runs 1 MiB ahead of its records.
            let (spool, _) = open(&dir, 4096, 1 << 20);
            spool.append(&events[..3]).unwrap();
            assert!(!spool.is_full());
        }
        let file = segment_files(&dir).pop().unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().len(), PREALLOCATE_BYTES);
        // Reopened, only the records count toward the bound and the zeros are no corruption.
        let (spool, metrics) = open(&dir, 4096, 1 << 20);
        assert_eq!(spool.depth(), 3);
        assert!(!spool.is_full());
        spool.append(&events[3..]).unwrap();
        assert_eq!(drain(&spool), events);
        assert_eq!(metrics.corrupt(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn events_come_back_in_order_across_segments_and_restarts() {
        let dir = dir();
        let events: Vec<_> = (0..50).map(event).collect();
        {
            let (spool, _) = open(&dir, 1 << 20, 300);
            for chunk in events[..30].chunks(4) {
                spool.append(chunk).unwrap();
            }
        }
        let (spool, _) = open(&dir, 1 << 20, 300);
        assert_eq!(spool.depth(), 30);
        spool.append(&events[30..]).unwrap();
        assert_eq!(spool.depth(), 50);
        assert!(segment_files(&dir).len() > 3, "segments roll over");
        assert_eq!(drain(&spool), events);
        assert_eq!(spool.depth(), 0);
        assert_eq!(
            segment_files(&dir).len(),
            1,
            "replayed segments are deleted"
        );
        drop(spool);
        let (spool, _) = open(&dir, 1 << 20, 300);
        assert_eq!(spool.depth(), 0);
        assert!(drain(&spool).is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_uncommitted_window_is_read_again_after_a_restart() {
        let dir = dir();
        let events: Vec<_> = (0..10).map(event).collect();
        {
            let (spool, _) = open(&dir, 1 << 20, 1 << 20);
            spool.append(&events).unwrap();
            let window = spool.read(4).unwrap();
            spool.commit(window.end, 4).unwrap();
            assert_eq!(spool.read(3).unwrap().events, events[4..7]);
        }
        let (spool, _) = open(&dir, 1 << 20, 1 << 20);
        // Committed records are not deleted until their segment is: a restart replays them
        // again (same ids, dropped as duplicates downstream) and never loses the rest.
        let replayed = drain(&spool);
        assert!(replayed.ends_with(&events[4..]));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_torn_tail_is_skipped_and_counted() {
        let dir = dir();
        let events: Vec<_> = (0..5).map(event).collect();
        let appended = {
            let (spool, _) = open(&dir, 1 << 20, 1 << 20);
            spool.append(&events).unwrap()
        };
        // The last record's final bytes never reached the disk (the file runs on in zeros).
        let file = segment_files(&dir).pop().unwrap();
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .write_all_at(&[0; 5], appended.end.offset - 5)
            .unwrap();
        let (spool, metrics) = open(&dir, 1 << 20, 1 << 20);
        assert_eq!(spool.depth(), 4);
        assert!(metrics.corrupt() >= 1);
        let later = event(99);
        spool.append(std::slice::from_ref(&later)).unwrap();
        let mut expected = events[..4].to_vec();
        expected.push(later);
        assert_eq!(drain(&spool), expected);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_zeroed_record_ends_its_segment_and_is_counted() {
        let dir = dir();
        let events: Vec<_> = (0..3).map(event).collect();
        let (first, second) = {
            let (spool, _) = open(&dir, 1 << 20, 1 << 20);
            (
                spool.append(&events[..1]).unwrap(),
                spool.append(&events[1..2]).unwrap(),
            )
        };
        // The second record's bytes are lost to zeros (a damaged disk), the third is intact.
        let file = segment_files(&dir).pop().unwrap();
        let writer = OpenOptions::new().write(true).open(&file).unwrap();
        writer
            .write_all_at(
                &vec![0; (second.end.offset - first.end.offset) as usize],
                first.end.offset,
            )
            .unwrap();
        let mut bytes = Vec::new();
        encode(&events[2], &mut bytes);
        writer.write_all_at(&bytes, second.end.offset).unwrap();
        let (spool, metrics) = open(&dir, 1 << 20, 1 << 20);
        assert_eq!(drain(&spool), events[..1].to_vec());
        assert_eq!(
            metrics.corrupt(),
            1,
            "records behind the zeros are counted as lost"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_record_is_skipped_and_the_rest_kept() {
        let dir = dir();
        let events: Vec<_> = (0..3).map(event).collect();
        {
            let (spool, _) = open(&dir, 1 << 20, 1 << 20);
            spool.append(&events).unwrap();
        }
        let file = segment_files(&dir).pop().unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let first_len = HEADER + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        bytes[first_len + HEADER + 30] ^= 0xff; // inside the second record's body
        std::fs::write(&file, bytes).unwrap();
        let (spool, metrics) = open(&dir, 1 << 20, 1 << 20);
        assert_eq!(metrics.corrupt(), 1);
        assert_eq!(drain(&spool), vec![events[0].clone(), events[2].clone()]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_second_spool_on_the_same_directory_is_refused() {
        let dir = dir();
        let (first, _) = open(&dir, 1 << 20, 1 << 20);
        let second = Spool::open(SpoolConfig::new(&dir, 1 << 20), SpoolMetrics::default());
        assert!(matches!(second, Err(SpoolError::Locked)));
        drop(first);
        assert!(Spool::open(SpoolConfig::new(&dir, 1 << 20), SpoolMetrics::default()).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_size_bound_refuses_whole_appends_and_frees_up_after_replay() {
        let dir = dir();
        let (spool, _) = open(&dir, 400, 1 << 20);
        let mut stored = 0;
        while spool.append(&[event(stored)]).is_ok() {
            stored += 1;
        }
        assert!(stored > 3, "{stored} events fit");
        assert!(spool.is_full());
        assert!(matches!(
            spool.append(&[event(1)]),
            Err(SpoolError::Full { .. })
        ));
        assert_eq!(spool.depth(), u64::from(stored));
        assert_eq!(drain(&spool).len(), stored as usize);
        assert!(!spool.is_full());
        spool.append(&[event(7)]).unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failing_disk_counts_as_full_until_an_append_succeeds() {
        let dir = dir();
        // One record per segment: every append starts a new segment file.
        let (spool, _) = open(&dir, 1 << 20, 1);
        spool.append(&[event(1)]).unwrap();
        assert!(!spool.is_full());
        // The directory vanishes (a stand-in for a disk that refuses): the next segment
        // cannot be created.
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(spool.append(&[event(2)]), Err(SpoolError::Io(_))));
        assert!(spool.is_full(), "a failed write turns readiness red");
        spool.probe_if_failing();
        assert!(spool.is_full(), "the disk still refuses");
        std::fs::create_dir_all(&dir).unwrap();
        // Nothing more to spool (JetStream answers again): the probe clears it.
        spool.probe_if_failing();
        assert!(!spool.is_full(), "a successful probe clears it");
        assert!(!dir.join(PROBE_FILE).exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(spool.append(&[event(3)]).is_err());
        assert!(spool.is_full());
        std::fs::create_dir_all(&dir).unwrap();
        spool.append(&[event(4)]).unwrap();
        assert!(!spool.is_full(), "a successful write clears it");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn set_aside_events_are_kept_as_json_lines_with_their_reason() {
        let dir = dir();
        let (spool, metrics) = open(&dir, 1 << 20, 1 << 16);
        let refused = event(7);
        spool
            .set_aside(&refused, "max payload size exceeded")
            .unwrap();
        spool.set_aside(&event(8), "second").unwrap();
        let text = std::fs::read_to_string(dir.join(SET_ASIDE_FILE)).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event_id"], refused.event_id.to_string());
        assert_eq!(lines[0]["reason"], "max payload size exceeded");
        assert_eq!(lines[0]["payload"], "{\"n\":7}");
        assert_eq!(metrics.depth(), 0, "set aside is not spooled for replay");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_newest_records_ship_from_memory_without_reading_the_disk() {
        let dir = dir();
        let events: Vec<_> = (0..9).map(event).collect();
        let (spool, metrics) = open_with_tail(&dir, 1 << 20, 1 << 20, 1 << 20);
        let first = spool.append(&events[..4]).unwrap();
        let second = spool.append(&events[4..]).unwrap();
        assert_eq!(first.end, second.start, "appends are contiguous");
        // Zero the segment on disk: what is shipped now can only come from memory.
        let segment = segment_files(&dir).pop().unwrap();
        let len = std::fs::metadata(&segment).unwrap().len();
        std::fs::write(&segment, vec![0u8; len as usize]).unwrap();
        let window = spool.read(100).unwrap();
        assert_eq!(window.events, events);
        assert_eq!(window.end, second.end);
        spool.commit(window.end, window.events.len()).unwrap();
        assert_eq!(metrics.depth(), 0);
        assert_eq!(metrics.corrupt(), 0, "the disk was never read");
        // After a restart the memory is gone and the disk is read (the zeroed bytes read as
        // the end of the segment's records).
        drop(spool);
        let (spool, _) = open_with_tail(&dir, 1 << 20, 1 << 20, 1 << 20);
        assert!(
            drain(&spool).is_empty(),
            "what was committed is not shipped again"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_memory_tail_with_gaps_falls_back_to_the_disk_in_order() {
        let dir = dir();
        let events: Vec<_> = (0..40).map(event).collect();
        // Room for three records and small segments: the tail overflows, leaves gaps
        // and crosses segment rolls.
        let budget = events[..3].iter().map(tail_size).sum();
        let (spool, metrics) = open_with_tail(&dir, 1 << 20, 300, budget);
        let mut shipped = Vec::new();
        for chunk in events.chunks(3) {
            spool.append(chunk).unwrap();
            let window = spool.read(4).unwrap();
            spool.commit(window.end, window.events.len()).unwrap();
            shipped.extend(window.events);
        }
        shipped.extend(drain(&spool));
        assert_eq!(shipped, events, "every record once, in order");
        assert_eq!(metrics.depth(), 0);
        assert_eq!(metrics.corrupt(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
