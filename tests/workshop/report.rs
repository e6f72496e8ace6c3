//! What the runner did, printed at the end: blocks and commands run, the
//! `ci=skip` blocks it left out (file:line), and every failure.

#[derive(Debug, Default)]
pub struct Summary {
    pub labs: Vec<String>,
    pub blocks_run: usize,
    pub commands: usize,
    /// `en/01-first-trace.md:12` of each `ci=skip` block.
    pub skipped: Vec<String>,
    pub failures: Vec<String>,
}

impl Summary {
    pub fn print(&self) {
        println!(
            "workshop: {} labs, {} blocks run, {} commands, {} failed",
            self.labs.len(),
            self.blocks_run,
            self.commands,
            self.failures.len()
        );
        for lab in &self.labs {
            println!("  ran {lab}");
        }
        for skipped in &self.skipped {
            println!("  skipped (ci=skip) {skipped}");
        }
        for failure in &self.failures {
            println!("FAILED {failure}\n");
        }
    }
}
