//! HL7 v2, pure: what the EHR integration reads and writes.
//!
//! - `parse` is lenient and never panics: it takes the delimiters from MSH
//!   (whatever they are), accepts `\r`, `\n` or `\r\n` between segments and
//!   a leading byte-order mark, keeps Z-segments and empty or trailing
//!   fields, decodes escapes (`\F\ \S\ \T\ \R\ \E\` and `\Xhh…\`), and
//!   returns the message with diagnostics for what it had to forgive.
//! - `encode` writes a message back (`\r` between segments, values
//!   escaped); `parse(encode(m))` gives `m` again.
//! - `segments` holds typed views of the segments Rapport reads (MSH, PID,
//!   SCH, AIS, AIL, AIP, PV1, MRG) and HL7's date-times.
//! - `mllp` frames messages for MLLP (0x0B … 0x1C 0x0D).
//!
//! Field numbers are HL7's: `PID-3` is `segment.field(3)`; for MSH, `MSH-1`
//! is the field separator itself and `MSH-2` the encoding characters, as
//! the standard counts them.

mod encode;
mod escape;
pub mod mllp;
mod parse;
pub mod segments;

pub use encode::encode;
pub use escape::escape;
pub use parse::parse;

/// The separators a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    /// `|^~\&`, as nearly every feed uses.
    fn default() -> Self {
        Self { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }
    }
}

/// A parsed message: its delimiters and segments, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub delimiters: Delimiters,
    pub segments: Vec<Segment>,
}

/// One segment: its id (`PID`, `ZXY`) and its fields, `fields[0]` being
/// field 1 (for MSH, `fields[0]` is MSH-2, the encoding characters, kept
/// as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    pub fields: Vec<Field>,
}

/// A field: its repetitions (none when the field is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field {
    pub repetitions: Vec<Repetition>,
}

/// One repetition: its components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repetition {
    pub components: Vec<Component>,
}

/// One component: its sub-components, unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    pub subcomponents: Vec<String>,
}

/// Something the parser forgave or could not read, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The segment's place in the message (0 for MSH), when it concerns one.
    pub segment: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Not standard, but read as meant (LF between segments, a BOM).
    Warning,
    /// Not readable as HL7 (no MSH): the message, if any, is partial.
    Error,
}

/// What `parse` made of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `None` when the input holds no MSH segment to read delimiters from.
    pub message: Option<Message>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
}

static EMPTY_FIELD: Field = Field { repetitions: Vec::new() };

impl Message {
    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Every segment with this id, in order.
    pub fn all<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.id == id)
    }
}

impl Segment {
    /// Field `n` as HL7 numbers it (1-based; MSH-1 is the field separator,
    /// which has no `Field`: `field(1)` of MSH is empty). A field beyond the
    /// last is empty.
    pub fn field(&self, n: usize) -> &Field {
        let index = if self.id == "MSH" { n.checked_sub(2) } else { n.checked_sub(1) };
        index.and_then(|i| self.fields.get(i)).unwrap_or(&EMPTY_FIELD)
    }

    /// The text of field `n`, component `c` (1-based), of its first
    /// repetition and first sub-component; empty when absent.
    pub fn text(&self, n: usize, c: usize) -> &str {
        self.field(n).first().text(c)
    }
}

static EMPTY_REPETITION: Repetition = Repetition { components: Vec::new() };

impl Field {
    pub fn first(&self) -> &Repetition {
        self.repetitions.first().unwrap_or(&EMPTY_REPETITION)
    }

    pub fn is_empty(&self) -> bool {
        self.repetitions.iter().all(Repetition::is_empty)
    }
}

impl Repetition {
    /// Component `c` (1-based), first sub-component; empty when absent.
    pub fn text(&self, c: usize) -> &str {
        c.checked_sub(1)
            .and_then(|i| self.components.get(i))
            .and_then(|comp| comp.subcomponents.first())
            .map_or("", String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.components.iter().all(|c| c.subcomponents.iter().all(String::is_empty))
    }
}
