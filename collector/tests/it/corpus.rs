//! Conformance: every file of the shared corpus (data written by others) imports, or is rejected
//! record by record with a reason that names the file and the record. The per-file counts are a
//! snapshot, so any change in what is accepted or rejected is visible in review.

use std::fmt::Write;

use arrow::array::RecordBatch;
use hopscope_collector::import::{Format, import_bytes, list_files, read_input};
use hopscope_collector::output::{FileCtx, Output, clock_micros};

#[test]
fn every_corpus_file_imports_or_is_rejected_with_a_reason() {
    let root = crate::corpus_dir();
    let files = list_files(std::slice::from_ref(&root)).unwrap();
    let mut report = String::new();
    let mut totals = (0usize, 0usize);
    for path in files
        .iter()
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
    {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let bytes = read_input(path).unwrap();
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1 << 16);
        let ctx = FileCtx {
            path: &name,
            log_group: None,
            now: clock_micros(),
        };
        let format = import_bytes(&bytes, &ctx, &mut out).unwrap();
        out.flush_all().unwrap();
        let (records, rejected, rejections) =
            (out.records, out.rejected(), out.rejections().to_vec());
        drop(out);

        let mut rows = std::collections::BTreeMap::<&str, usize>::new();
        for (table, batch) in &sink {
            *rows.entry(table).or_default() += batch.num_rows();
        }
        let total_rows: usize = rows.values().sum();
        assert!(
            total_rows > 0 || rejected > 0,
            "{name}: neither imported nor rejected ({format})"
        );
        for r in &rejections {
            assert_eq!(r.file, name);
            assert!(
                !r.record.is_empty() && !r.reason.is_empty(),
                "{name}: rejection without location or reason"
            );
        }
        if format == Format::Unsupported {
            assert_eq!(
                rejected, 1,
                "{name}: an unsupported file is one rejected record"
            );
        }
        totals.0 += total_rows;
        totals.1 += rejected;
        let rows: Vec<String> = rows.iter().map(|(t, n)| format!("{t}={n}")).collect();
        writeln!(
            report,
            "{name}: {format}; records {records}; rows {}; rejected {rejected}",
            rows.join(" ")
        )
        .unwrap();
        for r in rejections.iter().take(3) {
            writeln!(report, "    {}: {}", r.record, r.reason).unwrap();
        }
    }
    writeln!(
        report,
        "total rows {}; total rejected {}",
        totals.0, totals.1
    )
    .unwrap();
    insta::assert_snapshot!(report);
}
