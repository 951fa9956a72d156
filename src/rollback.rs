// The one rollback guard: a command pushes an undo for every step it has done; dropped
// before `commit()`, the guard runs the undos newest first, so a failure leaves nothing behind.

/// Undo steps, run in reverse order on drop unless `commit()` was called.
#[derive(Default)]
pub struct Rollback<'a> {
    undos: Vec<Box<dyn FnOnce() + 'a>>,
}

impl<'a> Rollback<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remember how to undo the step just done. Undos are best effort: each one ignores
    /// its own failure so the others still run.
    pub fn push(&mut self, undo: impl FnOnce() + 'a) {
        self.undos.push(Box::new(undo));
    }

    /// Keep everything done: the undos are dropped without running (values they own, such
    /// as link fds, are closed).
    pub fn commit(mut self) {
        self.undos.clear();
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        while let Some(undo) = self.undos.pop() {
            undo();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn drop_undoes_newest_first() {
        let log = RefCell::new(Vec::new());
        {
            let mut r = Rollback::new();
            for i in 1..=3 {
                let log = &log;
                r.push(move || log.borrow_mut().push(i));
            }
        }
        assert_eq!(*log.borrow(), [3, 2, 1]);
    }

    #[test]
    fn commit_keeps_everything() {
        let log = RefCell::new(Vec::new());
        let mut r = Rollback::new();
        r.push(|| log.borrow_mut().push(1));
        r.commit();
        assert!(log.borrow().is_empty());
    }
}
