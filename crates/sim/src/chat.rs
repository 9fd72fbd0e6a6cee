//! In-match chat, an engine feature every game gets: cleaning, the word filter, length caps,
//! per-sender rate limits, flood detection, per-listener mutes, operator silencing and the
//! recent history an operator can read.
//!
//! Sans-IO like the rest of the crate: time is the match tick, passed into every call, so the
//! same calls give the same lines on any machine (and a replay can carry them).
//!
//! # Order of calls
//! 1. [`ChatRoom::new`] with a validated [`ChatConfig`] and the match's tick rate.
//! 2. For each chat message a member sends: [`ChatRoom::submit`]. `Ok` is the line to deliver:
//!    send it to every member for whom [`ChatRoom::hears`] is true. `Err` is the refusal to
//!    send back to the sender; when [`Refused::flood`] is set, close the sender's connection.
//! 3. Any time: [`ChatRoom::mute`] (a listener's own choice), [`ChatRoom::silence`] (an
//!    operator's), [`ChatRoom::recent`] (the history), [`ChatRoom::forget`] when a member
//!    leaves for good.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::{ChatLine, ChatRefusal, ChatRefusalReason};
use tickwire_proto::text::clean_line;

/// Longest chat line a config may allow, bytes of UTF-8.
const MAX_LINE_BYTES: usize = 1024;
/// Most lines a config may keep in the history, lines.
const MAX_HISTORY_LINES: usize = 10_000;
/// Most words a word filter may list, words.
const MAX_FILTER_WORDS: usize = 10_000;
/// Longest word a word filter may list, bytes of UTF-8.
const MAX_FILTER_WORD_BYTES: usize = 64;
/// Longest flood window, seconds.
const MAX_FLOOD_WINDOW_SECS: u32 = 3600;

/// The `[chat]` section: what every match of the server allows.
///
/// Every field has a default, so a TOML section only needs the fields it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Whether players may chat at all (default true).
    pub enabled: bool,
    /// Longest line accepted after cleaning, bytes of UTF-8 (1..=1024, default 200); longer lines
    /// are refused with [`ChatRefusalReason::TooLong`], not cut.
    pub max_line_bytes: usize,
    /// Sustained rate each sender may chat at, lines per minute (1..=6000, default 20).
    pub lines_per_minute: u32,
    /// Lines a sender may send in a burst before the rate applies, lines (1..=100, default 5).
    pub burst: u32,
    /// Whether spectators receive the chat (default true).
    pub spectators_receive: bool,
    /// Whether spectators may send (default false).
    pub spectators_send: bool,
    /// Lines kept for the admin API, lines (0..=10000, default 100).
    pub history_lines: usize,
    /// Refused lines within one flood window that close the sender's connection, lines
    /// (1..=1000, default 20).
    pub flood_refusals: u32,
    /// Length of the flood window, seconds (1..=3600, default 10).
    pub flood_window_secs: u32,
    /// Words replaced by asterisks wherever they appear as a whole word, compared without case
    /// (default none; at most 10000 words of at most 64 bytes).
    pub word_filter: Vec<String>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_line_bytes: 200,
            lines_per_minute: 20,
            burst: 5,
            spectators_receive: true,
            spectators_send: false,
            history_lines: 100,
            flood_refusals: 20,
            flood_window_secs: 10,
            word_filter: Vec::new(),
        }
    }
}

/// A [`ChatConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatConfigError {
    /// A number is outside its accepted range.
    #[error("chat.{field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A word of the filter is empty, too long or not one word.
    #[error("chat.word_filter entry {0:?} must be one word of 1..=64 bytes")]
    BadFilterWord(String),
    /// The filter lists too many words.
    #[error("chat.word_filter lists {0} words, at most 10000 are accepted")]
    TooManyFilterWords(usize),
}

impl ChatConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ChatConfigError> {
        fn range(
            field: &'static str,
            value: u64,
            min: u64,
            max: u64,
        ) -> Result<(), ChatConfigError> {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ChatConfigError::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                })
            }
        }
        range(
            "max_line_bytes",
            self.max_line_bytes as u64,
            1,
            MAX_LINE_BYTES as u64,
        )?;
        range("lines_per_minute", self.lines_per_minute.into(), 1, 6000)?;
        range("burst", self.burst.into(), 1, 100)?;
        range(
            "history_lines",
            self.history_lines as u64,
            0,
            MAX_HISTORY_LINES as u64,
        )?;
        range("flood_refusals", self.flood_refusals.into(), 1, 1000)?;
        range(
            "flood_window_secs",
            self.flood_window_secs.into(),
            1,
            MAX_FLOOD_WINDOW_SECS.into(),
        )?;
        if self.word_filter.len() > MAX_FILTER_WORDS {
            return Err(ChatConfigError::TooManyFilterWords(self.word_filter.len()));
        }
        for word in &self.word_filter {
            let one_word = !word.is_empty() && word.chars().all(char::is_alphanumeric);
            if !one_word || word.len() > MAX_FILTER_WORD_BYTES {
                return Err(ChatConfigError::BadFilterWord(word.clone()));
            }
        }
        Ok(())
    }
}

/// Who takes part in a match's chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Member {
    /// A seated player, by player id (mutes and rate limits survive a reconnect).
    Player(u32),
    /// A spectator, by a key the caller picks (its connection id).
    Spectator(u64),
}

/// A refused line: what to tell the sender, and whether it is flooding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The refusal to send back.
    pub refusal: ChatRefusal,
    /// True when the sender has had more refusals in the flood window than the config allows;
    /// the caller closes its connection.
    pub flood: bool,
}

/// Per-sender bookkeeping.
#[derive(Clone, Debug, Default)]
struct Sender {
    /// Rate credit, ticks: a line costs `ticks_per_line`, credit grows by one per tick up to
    /// `burst * ticks_per_line`.
    credit: u64,
    /// Tick at which `credit` was last brought up to date.
    credited_at: u32,
    /// Refusals in the current flood window.
    refusals: u32,
    /// Tick at which the current flood window started.
    window_start: u32,
}

/// One match's chat.
#[derive(Clone, Debug)]
pub struct ChatRoom {
    config: ChatConfig,
    tick_rate: u16,
    /// Rate cost of one line, ticks.
    ticks_per_line: u64,
    /// Flood window, ticks.
    flood_window_ticks: u32,
    /// Filter words, lowercased.
    filter: BTreeSet<String>,
    senders: BTreeMap<Member, Sender>,
    /// Per listener, the players it muted.
    mutes: BTreeMap<Member, BTreeSet<u32>>,
    /// Players an operator silenced.
    silenced: BTreeSet<u32>,
    history: VecDeque<ChatLine>,
    next_seq: u32,
}

impl ChatRoom {
    /// A room with no lines yet; `config` must have passed [`ChatConfig::validate`].
    pub fn new(config: ChatConfig, tick_rate: u16) -> Self {
        let ticks_per_minute = 60 * u64::from(tick_rate.max(1));
        let ticks_per_line = ticks_per_minute.div_ceil(u64::from(config.lines_per_minute.max(1)));
        let flood_window_ticks = config.flood_window_secs.max(1) * u32::from(tick_rate.max(1));
        let filter = config
            .word_filter
            .iter()
            .map(|w| w.to_lowercase())
            .collect();
        Self {
            config,
            tick_rate: tick_rate.max(1),
            ticks_per_line: ticks_per_line.max(1),
            flood_window_ticks,
            filter,
            senders: BTreeMap::new(),
            mutes: BTreeMap::new(),
            silenced: BTreeSet::new(),
            history: VecDeque::new(),
            next_seq: 1,
        }
    }

    /// The config the room runs with.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// Takes one line from `from` at match tick `tick`: cleans it, checks it, filters it and
    /// appends it to the history. `name` is the sender's display name, copied into the line.
    pub fn submit(
        &mut self,
        tick: u32,
        from: Member,
        name: &str,
        text: &str,
    ) -> Result<ChatLine, Refused> {
        let result = self.check(tick, from, text);
        match result {
            Ok(text) => {
                let line = ChatLine {
                    seq: self.next_seq,
                    tick,
                    from: match from {
                        Member::Player(id) => id,
                        Member::Spectator(_) => 0,
                    },
                    name: name.to_owned(),
                    text,
                };
                self.next_seq = self.next_seq.wrapping_add(1);
                if self.config.history_lines > 0 {
                    if self.history.len() == self.config.history_lines {
                        self.history.pop_front();
                    }
                    self.history.push_back(line.clone());
                }
                Ok(line)
            }
            Err(refusal) => {
                let window = self.flood_window_ticks;
                let sender = self.sender(tick, from);
                if tick.wrapping_sub(sender.window_start) >= window || sender.refusals == 0 {
                    sender.window_start = tick;
                    sender.refusals = 0;
                }
                sender.refusals += 1;
                let flood = sender.refusals > self.config.flood_refusals;
                Err(Refused { refusal, flood })
            }
        }
    }

    /// The cleaned and filtered text of an acceptable line, charging the sender's rate; or why
    /// it is refused.
    fn check(&mut self, tick: u32, from: Member, text: &str) -> Result<String, ChatRefusal> {
        let refuse = |reason, limit| Err(ChatRefusal { reason, limit });
        if !self.config.enabled {
            return refuse(ChatRefusalReason::Disabled, 0);
        }
        match from {
            Member::Spectator(_) if !self.config.spectators_send => {
                return refuse(ChatRefusalReason::Spectator, 0);
            }
            Member::Player(id) if self.silenced.contains(&id) => {
                return refuse(ChatRefusalReason::Silenced, 0);
            }
            _ => {}
        }
        let max = self.config.max_line_bytes;
        // Clean with one byte of slack: a line that was cut is a line that was too long.
        let clean = clean_line(text, max + 1);
        if clean.is_empty() {
            return refuse(ChatRefusalReason::Empty, 0);
        }
        if clean.len() > max {
            return refuse(ChatRefusalReason::TooLong, max as u32);
        }
        let cap = self.credit_cap();
        let cost = self.ticks_per_line;
        let sender = self.sender(tick, from);
        let elapsed = u64::from(tick.saturating_sub(sender.credited_at));
        sender.credit = (sender.credit + elapsed).min(cap);
        sender.credited_at = tick;
        if sender.credit < cost {
            let wait_ticks = cost - sender.credit;
            let wait_ms = (wait_ticks * 1000).div_ceil(u64::from(self.tick_rate));
            return refuse(
                ChatRefusalReason::RateLimited,
                u32::try_from(wait_ms).unwrap_or(u32::MAX),
            );
        }
        sender.credit -= cost;
        Ok(self.filtered(clean))
    }

    /// Most rate credit a sender holds, ticks: a full burst.
    fn credit_cap(&self) -> u64 {
        u64::from(self.config.burst) * self.ticks_per_line
    }

    /// The bookkeeping of `from`, created with a full burst of credit at `tick`.
    fn sender(&mut self, tick: u32, from: Member) -> &mut Sender {
        let credit = self.credit_cap();
        self.senders.entry(from).or_insert(Sender {
            credit,
            credited_at: tick,
            ..Sender::default()
        })
    }

    /// `text` with every filtered word replaced by one asterisk per character.
    fn filtered(&self, text: String) -> String {
        if self.filter.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if !word.is_empty() {
                if self.filter.contains(&word.to_lowercase()) {
                    out.extend(std::iter::repeat_n('*', word.chars().count()));
                } else {
                    out.push_str(word);
                }
                word.clear();
            }
        };
        for c in text.chars() {
            if c.is_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    /// Whether `listener` is sent `line`: spectators only when the config says so, and nobody
    /// the lines of a player it muted.
    pub fn hears(&self, listener: Member, line: &ChatLine) -> bool {
        if matches!(listener, Member::Spectator(_)) && !self.config.spectators_receive {
            return false;
        }
        if line.from == 0 {
            return true;
        }
        self.mutes
            .get(&listener)
            .is_none_or(|muted| !muted.contains(&line.from))
    }

    /// Records that `listener` does (`muted`) or no longer does want `player`'s lines.
    pub fn mute(&mut self, listener: Member, player: u32, muted: bool) {
        if muted {
            self.mutes.entry(listener).or_default().insert(player);
        } else if let Some(set) = self.mutes.get_mut(&listener) {
            set.remove(&player);
            if set.is_empty() {
                self.mutes.remove(&listener);
            }
        }
    }

    /// Operator control: while `silenced`, `player`'s lines are refused with
    /// [`ChatRefusalReason::Silenced`].
    pub fn silence(&mut self, player: u32, silenced: bool) {
        if silenced {
            self.silenced.insert(player);
        } else {
            self.silenced.remove(&player);
        }
    }

    /// Whether an operator silenced `player`.
    pub fn is_silenced(&self, player: u32) -> bool {
        self.silenced.contains(&player)
    }

    /// The most recent lines, oldest first (at most `history_lines`).
    pub fn recent(&self) -> impl ExactSizeIterator<Item = &ChatLine> {
        self.history.iter()
    }

    /// Drops what the room keeps about `member` (it left for good): its rate state and its own
    /// mutes. Others' mutes of it are kept, since player ids are not reused within a match.
    pub fn forget(&mut self, member: Member) {
        self.senders.remove(&member);
        self.mutes.remove(&member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(config: ChatConfig) -> ChatRoom {
        config.validate().unwrap();
        ChatRoom::new(config, 30)
    }

    const P1: Member = Member::Player(1);
    const P2: Member = Member::Player(2);

    #[test]
    fn lines_are_numbered_in_order_and_kept() {
        let mut chat = room(ChatConfig::default());
        let a = chat.submit(10, P1, "ann", "hello").unwrap();
        let b = chat.submit(11, P2, "bob", " hi\u{200b} ann ").unwrap();
        assert_eq!(
            (a.seq, a.from, a.tick, a.text.as_str()),
            (1, 1, 10, "hello")
        );
        assert_eq!(
            (b.seq, b.from, b.name.as_str(), b.text.as_str()),
            (2, 2, "bob", "hi ann")
        );
        let recent: Vec<u32> = chat.recent().map(|l| l.seq).collect();
        assert_eq!(recent, [1, 2]);
    }

    #[test]
    fn history_keeps_the_newest_lines() {
        let mut chat = room(ChatConfig {
            history_lines: 2,
            lines_per_minute: 6000,
            burst: 100,
            ..ChatConfig::default()
        });
        for i in 0..5 {
            chat.submit(i, P1, "ann", &format!("line {i}")).unwrap();
        }
        let recent: Vec<&str> = chat.recent().map(|l| l.text.as_str()).collect();
        assert_eq!(recent, ["line 3", "line 4"]);
    }

    #[test]
    fn empty_and_long_lines_are_refused_with_their_limit() {
        let mut chat = room(ChatConfig {
            max_line_bytes: 8,
            ..ChatConfig::default()
        });
        let empty = chat.submit(0, P1, "ann", " \u{200b}\n").unwrap_err();
        assert_eq!(empty.refusal.reason, ChatRefusalReason::Empty);
        let long = chat.submit(0, P1, "ann", "123456789").unwrap_err();
        assert_eq!(
            long.refusal,
            ChatRefusal {
                reason: ChatRefusalReason::TooLong,
                limit: 8
            }
        );
        assert!(chat.submit(0, P1, "ann", "12345678").is_ok());
        // Invisible characters do not count against the limit: they are gone.
        assert!(
            chat.submit(0, P1, "ann", "1234\u{200b}\u{200b}5678")
                .is_ok()
        );
    }

    #[test]
    fn the_rate_allows_a_burst_then_one_line_per_period() {
        // 30 Hz, 20 lines a minute: one line per 90 ticks, a burst of 5.
        let mut chat = room(ChatConfig::default());
        for _ in 0..5 {
            chat.submit(100, P1, "ann", "spam").unwrap();
        }
        let limited = chat.submit(100, P1, "ann", "spam").unwrap_err();
        assert_eq!(limited.refusal.reason, ChatRefusalReason::RateLimited);
        assert_eq!(limited.refusal.limit, 3000, "90 ticks at 30 Hz");
        assert!(!limited.flood);
        assert!(
            chat.submit(189, P1, "ann", "spam").is_err(),
            "89 ticks later"
        );
        assert!(
            chat.submit(190, P1, "ann", "spam").is_ok(),
            "90 ticks later"
        );
        // Another sender has its own credit.
        assert!(chat.submit(190, P2, "bob", "hi").is_ok());
    }

    #[test]
    fn refusals_past_the_flood_limit_flag_the_sender() {
        let mut chat = room(ChatConfig {
            flood_refusals: 3,
            flood_window_secs: 1,
            ..ChatConfig::default()
        });
        let floods: Vec<bool> = (0..4)
            .map(|_| chat.submit(5, P1, "ann", "").unwrap_err().flood)
            .collect();
        assert_eq!(floods, [false, false, false, true]);
        // A new window starts afresh.
        assert!(!chat.submit(5 + 30, P1, "ann", "").unwrap_err().flood);
        assert!(!chat.submit(5, P2, "bob", "").unwrap_err().flood);
    }

    #[test]
    fn spectators_read_and_send_as_configured() {
        let spectator = Member::Spectator(77);
        let mut chat = room(ChatConfig::default());
        let refused = chat.submit(0, spectator, "watcher", "hi").unwrap_err();
        assert_eq!(refused.refusal.reason, ChatRefusalReason::Spectator);
        let line = chat.submit(0, P1, "ann", "hi").unwrap();
        assert!(chat.hears(spectator, &line));

        let mut open = room(ChatConfig {
            spectators_send: true,
            spectators_receive: false,
            ..ChatConfig::default()
        });
        let line = open.submit(0, spectator, "watcher", "hi").unwrap();
        assert_eq!(line.from, 0);
        assert!(!open.hears(spectator, &line));
        assert!(open.hears(P1, &line));
    }

    #[test]
    fn mutes_are_per_listener_and_silence_is_per_sender() {
        let mut chat = room(ChatConfig::default());
        chat.mute(P2, 1, true);
        let line = chat.submit(0, P1, "ann", "hi").unwrap();
        assert!(!chat.hears(P2, &line));
        assert!(chat.hears(Member::Player(3), &line));
        chat.mute(P2, 1, false);
        assert!(chat.hears(P2, &line));

        chat.silence(1, true);
        let silenced = chat.submit(0, P1, "ann", "hi").unwrap_err();
        assert_eq!(silenced.refusal.reason, ChatRefusalReason::Silenced);
        chat.silence(1, false);
        assert!(chat.submit(0, P1, "ann", "hi").is_ok());
    }

    #[test]
    fn filtered_words_become_asterisks_as_whole_words_only() {
        let mut chat = room(ChatConfig {
            word_filter: vec!["Darn".into(), "heck".into()],
            ..ChatConfig::default()
        });
        let line = chat
            .submit(0, P1, "ann", "DARN it, heck! darning heckle")
            .unwrap();
        assert_eq!(line.text, "**** it, ****! darning heckle");
    }

    #[test]
    fn disabled_chat_refuses_everyone() {
        let mut chat = room(ChatConfig {
            enabled: false,
            ..ChatConfig::default()
        });
        let refused = chat.submit(0, P1, "ann", "hi").unwrap_err();
        assert_eq!(refused.refusal.reason, ChatRefusalReason::Disabled);
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = |c: ChatConfig| c.validate().unwrap_err();
        assert!(matches!(
            bad(ChatConfig {
                max_line_bytes: 0,
                ..ChatConfig::default()
            }),
            ChatConfigError::OutOfRange {
                field: "max_line_bytes",
                ..
            }
        ));
        assert!(matches!(
            bad(ChatConfig {
                word_filter: vec!["two words".into()],
                ..ChatConfig::default()
            }),
            ChatConfigError::BadFilterWord(_)
        ));
        assert!(matches!(
            bad(ChatConfig {
                burst: 0,
                ..ChatConfig::default()
            }),
            ChatConfigError::OutOfRange { field: "burst", .. }
        ));
    }

    #[test]
    fn forgetting_a_member_resets_its_rate() {
        let mut chat = room(ChatConfig {
            burst: 1,
            ..ChatConfig::default()
        });
        chat.submit(0, P1, "ann", "a").unwrap();
        assert!(chat.submit(0, P1, "ann", "b").is_err());
        chat.forget(P1);
        assert!(chat.submit(0, P1, "ann", "c").is_ok());
    }
}
