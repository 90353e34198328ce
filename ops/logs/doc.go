// Package logs mines error and warning log lines into templates, in the
// spirit of Drain (He, Zhu, Zheng and Lyu, "Drain: An Online Log Parsing
// Approach with Fixed Depth Tree", ICWS 2017), and remembers the templates
// of earlier runs so that a new kind of error stands out.
//
// A [Miner] takes lines one at a time ([Miner.Add]). A line counts only when
// its level is error or warning ([DetectLevel]): plain level words (ERROR,
// WARN, …), logfmt's level=error, JSON's {"level":"error"}, klog's E1207
// header and a Python traceback's last line (ZeroDivisionError: …). Its
// leading timestamps are read and dropped, the caller's redactor is applied,
// and the variable parts are masked ([Mask]) before the line is clustered:
// numbers, hexadecimal ids, UUIDs, IP addresses, durations, quoted strings,
// timestamps and the values of key=value pairs become placeholders such as
// <num> and <ip>. Lines are then routed through a tree of fixed depth — by
// token count, then by their first few tokens — to a leaf of templates, and
// join the most similar one when enough of its constant tokens agree; the
// positions where they differ become <*>. [Miner.Templates] returns the
// templates with their counts, first and last seen, a sample and the
// workloads and pods they came from.
//
// A [Store] keeps the templates of earlier runs in one JSON file in the
// state dir, per scope (an environment, a workload: the caller's key);
// [Store.Diff] tells which templates of a run are new (see [SameKind] for when
// a template counts as known).
//
// Everything is deterministic: the same lines in the same order give the
// same templates. Nothing is global; memory is bounded by [Options].
package logs
