//! The kernel's logger: the `log` facade onto the Xen console, one line per record:
//! `<domain name> <LEVEL> <target>: <message>`. The level comes from the command line
//! (`vsnoop.loglevel=error|warn|info|debug|trace`, default info). Output never blocks for
//! long: the console drops (and counts) what a stuck dom0 does not drain.

use alloc::string::String;

use log::{LevelFilter, Log, Metadata, Record};
use spin::Once;

use crate::println;

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;
static NAME: Once<String> = Once::new();

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let name = NAME.get().map(String::as_str).unwrap_or("vsnoop");
        let target = record.target();
        let target = target.rsplit("::").next().unwrap_or(target);
        println!("{name} {:<5} {target}: {}", record.level(), record.args());
    }

    fn flush(&self) {}
}

/// Parses `vsnoop.loglevel=` from the command line (unknown values: info).
pub fn level_from_cmdline(cmdline: &str) -> LevelFilter {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("vsnoop.loglevel="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(LevelFilter::Info)
}

/// Installs the logger; `name` is the domain's name (from xenstore), printed on each line.
pub fn init(name: String, level: LevelFilter) {
    NAME.call_once(|| name);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
