//! Runs the bench corpus through httparse or through the classifier a given number of times,
//! for an instruction count under callgrind (`bench/wire-callgrind.sh`): the difference between
//! two counts of passes is the cost of the passes alone, without start-up.
//!
//! usage: wire_loop httparse|originlens PASSES [SHAPE]   (prints the bytes of one pass)
//!        wire_loop split PASSES READS [SHAPE]           (the classifier, each head fed in READS
//!                                                        reads of nearly equal size; prints the
//!                                                        bytes and the reads of one pass)

use std::hint::black_box;
use std::process::ExitCode;

#[path = "../benches/corpus/mod.rs"]
mod corpus;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(passes)) = (args.first(), args.get(1)) else {
        eprintln!("usage: wire_loop httparse|originlens PASSES [SHAPE]");
        return ExitCode::from(2);
    };
    let Ok(passes) = passes.parse::<u32>() else {
        eprintln!("wire_loop: PASSES must be a number, not `{passes}`");
        return ExitCode::from(2);
    };
    let (reads, shape_arg) = if mode == "split" {
        match args.get(2).map(|r| r.parse::<usize>()) {
            Some(Ok(r)) if r > 0 => (r, args.get(3)),
            _ => {
                eprintln!("wire_loop: split needs a number of reads (1 or more)");
                return ExitCode::from(2);
            }
        }
    } else {
        (1, args.get(2))
    };
    let shape = shape_arg.map(String::as_str).unwrap_or("all");
    let corpus = corpus::corpus();
    let heads: Vec<&[u8]> = corpus
        .iter()
        .filter(|s| shape == "all" || s.name == shape)
        .map(|s| &s.head[..])
        .collect();
    if heads.is_empty() {
        let names: Vec<_> = corpus.iter().map(|s| s.name).collect();
        eprintln!(
            "wire_loop: no shape `{shape}` (shapes: all, {})",
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    let run: fn(&[u8]) = match mode.as_str() {
        "httparse" => |h| {
            black_box(corpus::httparse_parse(black_box(h)));
        },
        "originlens" => |h| {
            black_box(corpus::originlens_classify(black_box(h)));
        },
        "split" => {
            for _ in 0..passes {
                for head in &heads {
                    black_box(corpus::originlens_classify_split(black_box(head), reads));
                }
            }
            // The reads one pass makes: a head shorter than READS is fed a byte a read.
            let made: usize = heads
                .iter()
                .map(|h| h.len().div_ceil(h.len().div_ceil(reads).max(1)))
                .sum();
            println!("{} {made}", heads.iter().map(|h| h.len()).sum::<usize>());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("wire_loop: mode is httparse, originlens or split, not `{mode}`");
            return ExitCode::from(2);
        }
    };
    for _ in 0..passes {
        for head in &heads {
            run(head);
        }
    }
    println!("{}", heads.iter().map(|h| h.len()).sum::<usize>());
    ExitCode::SUCCESS
}
