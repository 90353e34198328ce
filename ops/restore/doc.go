// Package restore turns a backup set into a plan of named steps and runs
// it: the one restore engine behind `opsdeck restore` and the Restore tab.
//
// Every step has a precondition, an action, a verification and an undo.
// Run executes the steps in order; when one fails (or the run is
// interrupted) the steps already done are undone in reverse, so a restore
// that fails half-way leaves production as it was. A database restore goes
// into a scratch database `<db>_restore_<id>` first and reaches production
// only through the swap, two renames in one transaction; the old database
// stays as `<db>_pre_<timestamp>` (ops/maintain cleans those up later).
//
//	eng := restore.New(backupEngine)
//	plan, err := eng.Prepare(ctx, restore.Options{Kind: "database", ID: "latest"})
//	// show plan.Steps and plan.Checks; ask for plan.Confirm
//	rep, err := eng.Run(ctx, plan, progressFunc)
//
// Progress events have Op "restore" for actions and Op "undo" for undos,
// Step the step's Name; the CLI prints them, the cockpit draws them.
package restore
