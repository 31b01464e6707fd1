//! Turning command-line operands into readable inputs: files, directories (their files),
//! glob patterns, `-` for stdin, and gzip-compressed rotations (detected by their magic bytes,
//! not their name). Problems become [`Note`]s; nothing here panics.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::sink::{Note, NoteKind};

/// One input to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSpec {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl InputSpec {
    /// The name used in output (`-` for stdin).
    pub fn name(&self) -> String {
        match self {
            InputSpec::Stdin => "-".to_owned(),
            InputSpec::Path(p) => p.display().to_string(),
        }
    }
}

/// Expands operands: `-` is stdin, a directory gives its regular files (sorted, not
/// recursive), a pattern with `*`, `?` or `[` is a glob. Missing paths and empty globs become
/// read-error notes.
pub fn expand(operands: &[String]) -> (Vec<InputSpec>, Vec<Note>) {
    let mut inputs = Vec::new();
    let mut notes = Vec::new();
    for op in operands {
        if op == "-" {
            inputs.push(InputSpec::Stdin);
            continue;
        }
        let path = Path::new(op);
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, 0, &mut files, &mut notes);
            if files.len() >= MAX_DIR_FILES {
                notes.push(Note::read_error(
                    op,
                    format!(
                        "more than {MAX_DIR_FILES} files: only the first {MAX_DIR_FILES} are read"
                    ),
                ));
                // Not a failure of the ones read: keep it a note, not a read error.
                if let Some(n) = notes.last_mut() {
                    n.kind = NoteKind::Limit;
                }
            }
            files.sort();
            inputs.extend(files.into_iter().map(InputSpec::Path));
        } else if path.exists() {
            inputs.push(InputSpec::Path(path.to_owned()));
        } else if op.contains(['*', '?', '[']) {
            match glob::glob(op) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths
                        .filter_map(Result::ok)
                        .filter(|p| p.is_file())
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        notes.push(Note::read_error(op, "the pattern matches no file".into()));
                    }
                    inputs.extend(found.into_iter().map(InputSpec::Path));
                }
                Err(e) => notes.push(Note::read_error(op, format!("bad glob pattern: {e}"))),
            }
        } else {
            notes.push(Note::read_error(op, "no such file or directory".into()));
        }
    }
    (inputs, notes)
}

/// What the first bytes of an input say before any scan: nothing at all (empty), journalctl's
/// "nothing here" messages, or a binary file. Missing journals are a read error (exit 2); an
/// empty input or an empty journal is a note, so "no incident" is never mistaken for "all well".
pub fn nothing_to_scan(name: &str, head: &[u8]) -> Option<Note> {
    let note = |kind, message: String| Note {
        kind,
        input: name.to_owned(),
        line: None,
        offset: None,
        message,
    };
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let only_line = head.len() <= first.len() + 2;
    if head.is_empty() {
        Some(note(
            NoteKind::Empty,
            "the input is empty: nothing was read, so nothing here says the origin is healthy"
                .into(),
        ))
    } else if only_line && first.trim_ascii() == b"-- No entries --" {
        Some(note(
            NoteKind::Empty,
            "journalctl found no entries (`-- No entries --`): nothing was read; widen --since or check the unit name".into(),
        ))
    } else if only_line && first.trim_ascii() == b"No journal files were found." {
        Some(note(
            NoteKind::ReadError,
            "journalctl found no journal files (`No journal files were found.`): nothing was read; run it as root or in the group systemd-journal, or read /var/log instead".into(),
        ))
    } else if is_binary(head) {
        Some(note(
            NoteKind::Binary,
            "a binary file, not a text log (NUL bytes or control bytes at its start); not scanned"
                .into(),
        ))
    } else {
        None
    }
}

/// A NUL in the first KiB, or mostly non-text bytes: not a log. A log with a hole further in
/// (after a crash) is still scanned, with a note from the scanner.
fn is_binary(head: &[u8]) -> bool {
    let start = &head[..head.len().min(1024)];
    if memchr::memchr(0, start).is_some() {
        return true;
    }
    let control = start
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x1b | 0x0c))
        .count();
    control * 10 > start.len()
}

/// Files read from one directory operand at most.
pub const MAX_DIR_FILES: usize = 10_000;
/// Directory levels below an operand that are read (`/var/log` -> `nginx/` -> files).
pub const MAX_DIR_DEPTH: usize = 4;

/// Every regular file under `dir` (rotations and `.gz` included; their content decides how
/// they are read), bounded in depth and count.
fn walk(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, notes: &mut Vec<Note>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            notes.push(Note::read_error(
                &dir.display().to_string(),
                format!("cannot list directory: {e}"),
            ));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if files.len() >= MAX_DIR_FILES {
            return;
        }
        // Symlinks are followed for files only, so a link loop cannot recurse.
        let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        if p.is_file() {
            files.push(p);
        } else if p.is_dir() && !is_link && depth + 1 < MAX_DIR_DEPTH {
            walk(&p, depth + 1, files, notes);
        }
    }
}

/// Compression formats recognised by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one or more members, as logrotate writes).
    Gzip,
    /// A format this reader does not decompress (xz, zstd, bzip2).
    Unsupported(&'static str),
}

/// Looks at the first bytes.
pub fn sniff(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Unsupported("xz"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Unsupported("zstd"),
        [b'B', b'Z', b'h', ..] => Compression::Unsupported("bzip2"),
        _ => Compression::None,
    }
}

/// Wraps a reader, decompressing gzip when its first bytes say so. Unsupported formats are an
/// error naming the format.
pub fn decode<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    decode_with(reader).map(|(r, _)| r)
}

fn decode_with<'a, R: Read + 'a>(reader: R) -> io::Result<(Box<dyn Read + 'a>, Compression)> {
    let mut buffered = BufReader::with_capacity(64 << 10, reader);
    let head = buffered.fill_buf()?;
    let kind = sniff(head);
    match kind {
        Compression::None => Ok((Box::new(buffered), kind)),
        Compression::Gzip => Ok((Box::new(MultiGzDecoder::new(buffered)), kind)),
        Compression::Unsupported(name) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}-compressed input is not supported; decompress it and pipe it in"),
        )),
    }
}

/// An opened file, ready to scan.
pub struct Opened {
    /// The (decompressed) content.
    pub reader: Box<dyn Read>,
    /// The file's identity at open, for [`rotation_note`].
    pub identity: Option<FileIdentity>,
    /// How the file is compressed.
    pub compression: Compression,
}

/// Opens a file for scanning, decompressing gzip.
pub fn open(path: &Path) -> io::Result<Opened> {
    let file = File::open(path)?;
    let identity = identity(&file);
    let (reader, compression) = decode_with(file)?;
    Ok(Opened {
        reader,
        identity,
        compression,
    })
}

/// What identifies an open file, to notice rotation or truncation while it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
}

/// The identity of an open file.
pub fn identity(file: &File) -> Option<FileIdentity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        Some(FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// After reading `path` to the end: a note if the path now names another file (rotated) or the
/// file shrank (truncated, `copytruncate`).
pub fn rotation_note(
    path: &Path,
    before: FileIdentity,
    bytes_read: u64,
    compressed: bool,
) -> Option<Note> {
    let now = File::open(path).ok().and_then(|f| identity(&f));
    let name = path.display().to_string();
    let message = match now {
        None => "the file disappeared while it was read (rotated away); lines written after that are not in this scan".to_owned(),
        Some(n) if (n.dev, n.ino) != (before.dev, before.ino) => {
            "the file was rotated while it was read (the path now names a new file); lines written to the new file are not in this scan".to_owned()
        }
        Some(n) if n.len < before.len || (!compressed && n.len < bytes_read) => format!(
            "the file was truncated while it was read ({} bytes at open, {} now); some lines may be missing",
            before.len, n.len
        ),
        _ => return None,
    };
    Some(Note {
        kind: NoteKind::Rotated,
        input: name,
        line: None,
        offset: Some(bytes_read),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_detected_by_content() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello\n").unwrap();
        let gz = enc.finish().unwrap();
        let mut out = String::new();
        decode(&gz[..]).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello\n");
        let mut plain = String::new();
        decode(&b"plain\n"[..])
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "plain\n");
    }

    #[test]
    fn cut_off_gzip_is_a_compression_note_with_what_was_read_kept() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let line = "2024/01/02 03:04:05 [error] 1#1: *1 upstream sent too big header while reading response header from upstream\n";
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..2000 {
            enc.write_all(line.as_bytes()).unwrap();
        }
        let gz = enc.finish().unwrap();
        let cut = &gz[..gz.len() / 2];
        let mut report = crate::Report::new(crate::ReportOptions::default());
        let i = report.input("error.log.2.gz");
        let stats = crate::Scanner::new(crate::TimeContext::default()).scan(
            i,
            "error.log.2.gz",
            decode(cut).unwrap(),
            &mut report,
        );
        assert!(stats.failed);
        let a = report.finish();
        assert!(a.totals.matched > 0, "lines before the cut are kept");
        assert_eq!(a.notes[0].kind, NoteKind::Compression, "{:?}", a.notes);
    }

    #[test]
    fn rotation_and_truncation_while_reading_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("error.log");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let file = File::open(&path).unwrap();
        let id = identity(&file).unwrap();
        assert_eq!(rotation_note(&path, id, 8, false), None, "unchanged file");
        // logrotate's create mode: the old file is renamed, a new one takes its name.
        std::fs::rename(&path, dir.path().join("error.log.1")).unwrap();
        std::fs::write(&path, "").unwrap();
        let note = rotation_note(&path, id, 8, false).unwrap();
        assert_eq!(note.kind, NoteKind::Rotated);
        assert!(note.message.contains("rotated"), "{}", note.message);
        // copytruncate: same file, cut to zero.
        let p2 = dir.path().join("access.log");
        std::fs::write(&p2, "one\ntwo\n").unwrap();
        let id2 = identity(&File::open(&p2).unwrap()).unwrap();
        std::fs::write(&p2, "").unwrap();
        let note = rotation_note(&p2, id2, 8, false).unwrap();
        assert!(note.message.contains("truncated"), "{}", note.message);
    }

    #[test]
    fn unsupported_compression_is_named() {
        let err = decode(&[0x28u8, 0xb5, 0x2f, 0xfd, 0, 0][..]).err().unwrap();
        assert!(err.to_string().contains("zstd"), "{err}");
    }

    #[test]
    fn expand_reports_missing_and_lists_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.log"), "x\n").unwrap();
        std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
        let missing = dir.path().join("nope.log").display().to_string();
        let pattern = dir.path().join("*.log").display().to_string();
        let (inputs, notes) = expand(&[
            dir.path().display().to_string(),
            missing.clone(),
            pattern,
            "-".into(),
        ]);
        assert_eq!(inputs.len(), 5);
        assert!(inputs[0].name().ends_with("a.log"));
        assert_eq!(inputs[4], InputSpec::Stdin);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].input, missing);
        assert_eq!(notes[0].kind, NoteKind::ReadError);
    }
}
