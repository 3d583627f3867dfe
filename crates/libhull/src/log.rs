//! hull's log: warnings and debug lines, to stderr or to `--log` in runc's formats
//! (`text`, or `json` lines `{"level":..,"msg":..,"time":..}`).

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Sink {
    path: Option<std::path::PathBuf>,
    format: Format,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets where log lines go; without a call they go to stderr as text.
pub fn init(path: Option<std::path::PathBuf>, format: Format, debug: bool) {
    let _ = SINK.set(Sink {
        path,
        format,
        debug,
    });
}

pub fn debug_enabled() -> bool {
    SINK.get().is_some_and(|s| s.debug)
}

pub fn error(msg: &str) {
    write("error", msg);
}

pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        write("debug", msg);
    }
}

/// One log line as runc writes it.
pub fn format_line(format: Format, level: &str, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string() + "\n"
        }
        Format::Text => format!("time=\"{time}\" level={level} msg={msg:?}\n"),
    }
}

fn write(level: &str, msg: &str) {
    let sink = SINK.get();
    let format = sink.map_or(Format::Text, |s| s.format);
    let time = crate::time::now_rfc3339();
    match sink.and_then(|s| s.path.as_ref()) {
        Some(path) => {
            let line = format_line(format, level, msg, &time);
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = writeln!(std::io::stderr(), "hull: {level}: {msg}");
        }
    }
}

/// Debug timings of the phases of one operation (`--debug`): each `mark` logs how long
/// the phase since the previous mark took, so a slow start shows where it went.
pub struct Phases {
    what: &'static str,
    start: std::time::Instant,
    last: std::time::Instant,
    on: bool,
}

impl Phases {
    pub fn new(what: &'static str) -> Phases {
        let now = std::time::Instant::now();
        Phases {
            what,
            start: now,
            last: now,
            on: debug_enabled(),
        }
    }

    pub fn mark(&mut self, phase: &str) {
        if !self.on {
            return;
        }
        let now = std::time::Instant::now();
        debug(&format!(
            "{}: {phase} {:.3} ms (at {:.3} ms)",
            self.what,
            (now - self.last).as_secs_f64() * 1e3,
            (now - self.start).as_secs_f64() * 1e3
        ));
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_runc_fields() {
        let line = format_line(Format::Json, "error", "boom \"x\"", "2026-01-01T00:00:00Z");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
    }
}
