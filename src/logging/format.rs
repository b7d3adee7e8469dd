//! How a log line is written: tracing-subscriber's default format,
//! byte for byte, without its costs on the request log's path.
//!
//! - [`Lines`]: the line's timestamp, level and target are written as
//!   strings, not through `write!` and the colour styles, when the line has
//!   no colours and no span around it; any other line is the default
//!   format's own.
//! - [`Fields`]: the fields, with the request log's message written whole
//!   when it has nothing to escape.
//! - [`UtcMillis`]: the timestamp, its second formatted once per thread.

use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Format, Full, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Log lines as tracing-subscriber's `Format<Full>` writes them, timed by
/// `T`.
pub struct Lines<T> {
    timer: T,
    full: Format<Full, T>,
}

impl<T: FormatTime + Clone> Lines<T> {
    /// Lines timed by `timer`.
    pub fn new(timer: T) -> Self {
        Self {
            full: tracing_subscriber::fmt::format().with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for Lines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if writer.has_ansi_escapes() || ctx.event_scope().is_some() {
            return self.full.format_event(ctx, writer, event);
        }
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        let meta = event.metadata();
        // The default's level, padded to five characters, between spaces.
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The fields of a log line, formatted as tracing-subscriber's
/// `DefaultFields` does, but with a faster way for the request log's
/// message: a message given as a string with nothing to escape is written
/// in one piece. (`DefaultFields` writes every message one character at a
/// time, to escape terminal control characters; that was half of a log
/// line's cost.) Any other message or field goes to `DefaultFields`'s own
/// visitor, escaping included.
pub struct Fields;

impl<'a> MakeVisitor<Writer<'a>> for Fields {
    type Visitor = FieldsVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        FieldsVisitor {
            writer: target,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// The visitor of [`Fields`].
pub struct FieldsVisitor<'a> {
    writer: Writer<'a>,
    /// No field written yet: the next one needs no space before it.
    is_empty: bool,
    result: fmt::Result,
}

impl FieldsVisitor<'_> {
    /// Records one field with `DefaultFields`'s visitor.
    fn by_default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        self.is_empty = false;
    }
}

/// What `DefaultFields` escapes in a message: ESC, BEL, BS, FF, DEL and the
/// C1 controls (U+0080 to U+009F, in UTF-8 0xC2 then 0x80 to 0x9F).
fn needs_escaping(text: &str) -> bool {
    let bytes = text.as_bytes();
    let control = |byte: u8| matches!(byte, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f);
    // Every byte with the one after it, without stopping early: the
    // compiler makes this a few instructions per 16 or 32 bytes.
    let pairs = bytes.iter().zip(bytes.iter().skip(1));
    let found = pairs.fold(false, |found, (&byte, &next)| {
        found | control(byte) | (byte == 0xc2 && next <= 0x9f)
    });
    found || bytes.last().is_some_and(|&last| control(last))
}

impl Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.is_empty
            && self.result.is_ok()
            && field.name() == "message"
            && !needs_escaping(value)
        {
            self.is_empty = false;
            self.result = self.writer.write_str(value);
            return;
        }
        self.by_default(|visitor| visitor.record_str(field, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.by_default(|visitor| visitor.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.by_default(|visitor| visitor.record_debug(field, value));
    }
}

impl VisitOutput<fmt::Result> for FieldsVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for FieldsVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// `2026-11-26T09:00:00.123Z`: UTC with milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct UtcMillis;

thread_local! {
    /// The last second formatted on this thread, and its text up to the
    /// milliseconds: `2026-11-26T09:00:00.`.
    static LAST_SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for UtcMillis {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = since_epoch.as_secs();
        LAST_SECOND.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != seconds {
                let text = i64::try_from(seconds)
                    .ok()
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                    .and_then(|time| time.format(&Rfc3339).ok())
                    .unwrap_or_default();
                *cache = (seconds, format!("{}.", text.trim_end_matches('Z')));
            }
            // Three digits and `Z`, without the formatting machinery.
            let millis = since_epoch.subsec_millis();
            let digit = |value: u32| b"0123456789"[(value % 10) as usize];
            let tail = [digit(millis / 100), digit(millis / 10), digit(millis), b'Z'];
            w.write_str(&cache.1)?;
            w.write_str(std::str::from_utf8(&tail).unwrap_or("000Z"))
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Where a test subscriber writes (the request log's tests use it too).
    #[derive(Clone, Default)]
    pub(in crate::logging) struct Captured(pub(in crate::logging) Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// Every kind of event the app logs, as `fields` formats it.
    fn lines<F>(fields: F) -> String
    where
        F: for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .without_time()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(message = "GET /get-session-data 200 51µs");
            tracing::info!(message = "GET /\u{1b}[31mred\u{9b}\u{e9} 404 7µs");
            tracing::info!(message = "GET /a\u{85}b\u{7f} 404 9µs");
            tracing::info!(message = "POST /login 200 3µs", user = "ada");
            tracing::info!("formatted {} \u{7}", 42);
            let err = io::Error::other("no \u{1b} file");
            tracing::warn!(%err, "accept failed");
            tracing::warn!(
                error = &err as &(dyn std::error::Error + 'static),
                "as an error"
            );
            tracing::debug!(removed = 3, live = 10_u64, "swept expired sessions");
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// A clock that always says the same.
    #[derive(Clone, Copy)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-11-26T09:00:00.123Z")
        }
    }

    /// Events at every level, with fields, and inside a span, as `lines`
    /// writes them, with or without colours.
    fn written_by<E>(lines: E, ansi: bool) -> String
    where
        E: for<'w> FormatEvent<tracing_subscriber::Registry, Fields> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(ansi)
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(Fields)
            .event_format(lines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(message = "GET /get-session-data 200 51µs");
            tracing::trace!(a = 1, "trace");
            tracing::debug!("debug {}", 2);
            tracing::warn!(err = %"x", "warn");
            tracing::error!("error");
            let span = tracing::info_span!("request", id = 7);
            span.in_scope(|| tracing::info!(message = "inside a span"));
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn log_lines_are_those_of_the_default_format() {
        for ansi in [false, true] {
            let ours = written_by(Lines::new(Fixed), ansi);
            let default = written_by(tracing_subscriber::fmt::format().with_timer(Fixed), ansi);

            assert_eq!(ours, default, "ansi: {ansi}");
        }
        let plain = written_by(Lines::new(Fixed), false);
        assert!(plain.contains(" request{id=7}: "), "{plain}");
        assert!(plain.starts_with(
            "2026-11-26T09:00:00.123Z  INFO ajax_sessions::logging::format::tests: \
             GET /get-session-data 200 51µs\n"
        ));
    }

    #[test]
    fn log_lines_are_those_of_the_default_fields_escapes_included() {
        let ours = lines(Fields);
        let default = lines(DefaultFields::new());

        assert_eq!(ours, default);
        assert!(ours.contains("GET /get-session-data 200 51µs\n"), "{ours}");
        assert!(ours.contains("\\x1b[31mred\\u{9b}\u{e9}"), "{ours}");
        assert!(!ours.contains("/\u{1b}"), "{ours}");
        assert!(ours.contains("/a\\u{85}b\\x7f 404"), "{ours}");
        // The request log's line takes the quick way.
        assert!(!needs_escaping("GET /get-session-data 200 51µs"));
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let mut text = String::new();
        let before = SystemTime::now();

        UtcMillis.format_time(&mut Writer::new(&mut text)).unwrap();
        UtcMillis.format_time(&mut Writer::new(&mut text)).unwrap();

        let (first, second) = text.split_at(24);
        for stamp in [first, second] {
            let parsed = OffsetDateTime::parse(stamp, &Rfc3339).expect(stamp);
            let taken = SystemTime::from(parsed);
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
                "{stamp}"
            );
            let off = taken
                .duration_since(before)
                .unwrap_or_else(|err| err.duration());
            assert!(off < std::time::Duration::from_secs(2), "{stamp}");
        }
    }
}
