//! The learning-rate schedule of HF's `get_linear_schedule_with_warmup`.

/// Linear warmup from 0 to the peak, then linear decay to 0 at `total_steps`.
///
/// The optimizer step with index `k` (0-based) uses `lr(k)`, as `torch.optim.lr_scheduler.LambdaLR`
/// does after `scheduler.step()` is called once per optimizer step:
/// `k < warmup: peak·k/warmup`, else `peak·max(0, (total−k)/(total−warmup))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearSchedule {
    /// The peak learning rate (`learning_rate`).
    pub peak: f64,
    /// Warmup steps.
    pub warmup_steps: usize,
    /// Total optimizer steps of the run.
    pub total_steps: usize,
}

impl LinearSchedule {
    /// Learning rate of optimizer step `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        let factor = if step < self.warmup_steps {
            step as f64 / self.warmup_steps.max(1) as f64
        } else {
            let remaining = self.total_steps.saturating_sub(step) as f64;
            let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
            (remaining / span).max(0.0)
        };
        self.peak * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = LinearSchedule {
            peak: 1e-2,
            warmup_steps: 2,
            total_steps: 5,
        };
        let lrs: Vec<f64> = (0..6).map(|k| s.lr(k)).collect();
        let expected = [0.0, 5e-3, 1e-2, 1e-2 * 2.0 / 3.0, 1e-2 / 3.0, 0.0];
        for (got, want) in lrs.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{lrs:?}");
        }
        let no_warmup = LinearSchedule {
            peak: 5e-5,
            warmup_steps: 0,
            total_steps: 4,
        };
        assert_eq!(no_warmup.lr(0), 5e-5);
        assert_eq!(no_warmup.lr(3), 5e-5 / 4.0);
    }
}
