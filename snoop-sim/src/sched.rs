//! A model of Xen's credit scheduler (`xen/common/sched_credit.c`, "credit1") on one pCPU.
//!
//! Modelled: 30 ms time slice; 10 ms ticks that burn the running vCPU's credit and end its BOOST;
//! 30 ms accounting that hands out 300 credits among *active* vCPUs by weight (equal weights),
//! clamps credit to [-300, 300+] (above 300 a vCPU goes inactive with half its credit), and sets
//! priorities UNDER (credit >= 0) / OVER (credit < 0); run queue ordered BOOST > UNDER > OVER,
//! FIFO within a class (a preempted or expiring vCPU goes to the tail of its class); a vCPU that
//! wakes from blocked with priority UNDER becomes BOOST and preempts a lower-priority running
//! vCPU, but never before that vCPU has run `ratelimit` (1 ms) in its current stint.
//!
//! Simplified (documented in docs/simulation.md): one pCPU, no load balancing, equal weights, no
//! caps; the run-queue re-sort happens at accounting time instead of the next tick; credits burn
//! exactly (Xen's `residual` bookkeeping); context switches and the scheduler itself cost no time.

use std::collections::VecDeque;

use crate::time::{Nanos, MS, US};

#[derive(Clone, Debug)]
pub struct SchedParams {
    pub tslice_ns: Nanos,
    pub ratelimit_ns: Nanos,
    pub tick_ns: Nanos,
    /// Xen's `CSCHED_MIN_TIMER` (`XEN_SYSCTL_SCHED_RATELIMIT_MIN`, 100 µs).
    pub min_timer_ns: Nanos,
    pub credits_per_ms: i64,
}

impl Default for SchedParams {
    fn default() -> Self {
        SchedParams {
            tslice_ns: 30 * MS,
            ratelimit_ns: MS,
            tick_ns: 10 * MS,
            min_timer_ns: 100 * US,
            credits_per_ms: 10,
        }
    }
}

impl SchedParams {
    fn credits_per_tslice(&self) -> i64 {
        self.credits_per_ms * (self.tslice_ns / MS) as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pri {
    Over = 0,
    Under = 1,
    Boost = 2,
}

#[derive(Clone, Debug)]
struct Vcpu {
    credit: i64,
    residual: u64,
    start_time: Nanos,
    pri: Pri,
    active: bool,
    runnable: bool,
}

#[derive(Clone, Debug, Default)]
pub struct SchedStats {
    pub switches: u64,
    pub boosts: u64,
    pub run_ns: Vec<Nanos>,
}

pub struct CreditSched {
    pub p: SchedParams,
    vcpus: Vec<Vcpu>,
    runq: VecDeque<usize>,
    current: Option<usize>,
    /// When `current` started its stint (Xen's runstate entry time; ratelimit reference).
    stint_start: Nanos,
    slice_gen: u64,
    credit_balance: i64,
    /// A slice-timer request `(at, generation)` for the caller to schedule; stale generations
    /// are ignored by [`CreditSched::slice_timer`].
    pub timer_req: Option<(Nanos, u64)>,
    pub stats: SchedStats,
}

impl CreditSched {
    pub fn new(p: SchedParams, n_vcpus: usize) -> Self {
        CreditSched {
            p,
            vcpus: (0..n_vcpus)
                .map(|_| Vcpu {
                    credit: 0,
                    residual: 0,
                    start_time: 0,
                    pri: Pri::Under,
                    active: false,
                    runnable: false,
                })
                .collect(),
            runq: VecDeque::new(),
            current: None,
            stint_start: 0,
            slice_gen: 0,
            credit_balance: 0,
            timer_req: None,
            stats: SchedStats {
                run_ns: vec![0; n_vcpus],
                ..Default::default()
            },
        }
    }

    /// The vCPU running on the pCPU (`None`: idle).
    pub fn current(&self) -> Option<usize> {
        self.current
    }
    pub fn is_runnable(&self, v: usize) -> bool {
        self.vcpus[v].runnable
    }
    pub fn pri(&self, v: usize) -> Pri {
        self.vcpus[v].pri
    }
    pub fn credit(&self, v: usize) -> i64 {
        self.vcpus[v].credit
    }

    fn runq_insert(&mut self, v: usize) {
        let pri = self.vcpus[v].pri;
        let pos = self
            .runq
            .iter()
            .position(|&o| pri > self.vcpus[o].pri)
            .unwrap_or(self.runq.len());
        self.runq.insert(pos, v);
    }

    fn burn_credits(&mut self, v: usize, now: Nanos) {
        let c = &mut self.vcpus[v];
        if now <= c.start_time {
            return;
        }
        let val = (now - c.start_time) * self.p.credits_per_ms as u64 + c.residual;
        c.residual = val % MS;
        c.credit -= (val / MS) as i64;
        c.start_time = now;
    }

    /// The vCPU becomes runnable (event, timer, or its load's busy phase begins).
    pub fn wake(&mut self, v: usize, now: Nanos) {
        if self.vcpus[v].runnable {
            return;
        }
        self.vcpus[v].runnable = true;
        if self.vcpus[v].pri == Pri::Under {
            self.vcpus[v].pri = Pri::Boost;
            self.stats.boosts += 1;
        }
        self.runq_insert(v);
        // __runq_tickle: preempt an idle pCPU or a lower-priority running vCPU.
        let tickle = match self.current {
            None => true,
            Some(c) => self.vcpus[v].pri > self.vcpus[c].pri,
        };
        if tickle {
            self.schedule(now);
        }
    }

    /// The vCPU blocks (nothing to do).
    pub fn block(&mut self, v: usize, now: Nanos) {
        if !self.vcpus[v].runnable {
            return;
        }
        self.vcpus[v].runnable = false;
        if self.current == Some(v) {
            self.schedule(now);
        } else if let Some(i) = self.runq.iter().position(|&o| o == v) {
            self.runq.remove(i);
        }
    }

    /// The slice (or ratelimit) timer of generation `gen` fired.
    pub fn slice_timer(&mut self, gen: u64, now: Nanos) {
        if gen == self.slice_gen {
            self.schedule(now);
        }
    }

    /// `csched_tick` (every 10 ms): accounting for the running vCPU.
    pub fn tick(&mut self, now: Nanos) {
        if let Some(c) = self.current {
            if self.vcpus[c].pri == Pri::Boost {
                self.vcpus[c].pri = Pri::Under;
            }
            self.burn_credits(c, now);
            self.vcpus[c].active = true;
        }
    }

    /// `csched_acct` (every 30 ms): distribute credits among active vCPUs.
    pub fn acct(&mut self, now: Nanos) {
        if let Some(c) = self.current {
            self.burn_credits(c, now);
        }
        let per_tslice = self.p.credits_per_tslice();
        let active: Vec<usize> = (0..self.vcpus.len())
            .filter(|&v| self.vcpus[v].active)
            .collect();
        if active.is_empty() {
            self.credit_balance = 0;
            return;
        }
        let n = active.len() as i64;
        let mut credit_total = per_tslice; // one pCPU
        if self.credit_balance < 0 {
            credit_total -= self.credit_balance;
        }
        let mut peak = per_tslice;
        if self.credit_balance < 0 {
            peak += (-self.credit_balance + n - 1) / n;
        }
        let fair = ((credit_total + n - 1) / n).min(peak);
        let mut balance = 0;
        for v in active {
            let c = &mut self.vcpus[v];
            c.credit += fair;
            if c.credit < 0 {
                c.pri = Pri::Over;
                c.credit = c.credit.max(-per_tslice);
            } else {
                c.pri = Pri::Under;
                if c.credit > per_tslice {
                    c.active = false;
                    c.credit /= 2;
                }
            }
            balance += c.credit;
        }
        self.credit_balance = balance;
        // csched_runq_sort: UNDER (and BOOST) ahead of OVER, stable otherwise.
        let mut q: Vec<usize> = self.runq.drain(..).collect();
        q.sort_by_key(|&v| self.vcpus[v].pri < Pri::Under);
        self.runq.extend(q);
    }

    /// `csched_schedule`.
    fn schedule(&mut self, now: Nanos) {
        let runtime = now.saturating_sub(self.stint_start);
        if let Some(c) = self.current {
            self.burn_credits(c, now);
            if self.vcpus[c].runnable && runtime < self.p.ratelimit_ns {
                // Rate limiting: keep running until it has run `ratelimit` in this stint.
                let mut t = self.p.ratelimit_ns - runtime;
                if runtime < self.p.min_timer_ns {
                    t = self.p.min_timer_ns;
                }
                self.arm(now + t);
                return;
            }
            if self.vcpus[c].runnable {
                self.runq_insert(c);
            }
        }
        let next = self.runq.pop_front();
        if next != self.current {
            if let Some(c) = self.current {
                self.stats.run_ns[c] += now - self.stint_start;
            }
            self.stats.switches += 1;
            self.stint_start = now;
            self.current = next;
            if let Some(n) = next {
                self.vcpus[n].start_time = now;
            }
        }
        match next {
            Some(_) => self.arm(now + self.p.tslice_ns),
            None => {
                self.slice_gen += 1;
                self.timer_req = None;
            }
        }
    }

    fn arm(&mut self, at: Nanos) {
        self.slice_gen += 1;
        self.timer_req = Some((at, self.slice_gen));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the scheduler alone: three always-runnable vCPUs share the pCPU fairly, in
    /// stints of at most one 30 ms slice.
    #[test]
    fn cpu_bound_vcpus_share_fairly_in_30ms_slices() {
        let mut s = CreditSched::new(SchedParams::default(), 3);
        let mut timer: Option<(Nanos, u64)> = None;
        for v in 0..3 {
            s.wake(v, 0);
            if let Some(t) = s.timer_req.take() {
                timer = Some(t);
            }
        }
        let (mut next_tick, mut next_acct) = (10 * MS, 30 * MS);
        let mut last = (0, s.current());
        let end = 3000 * MS;
        loop {
            let (t, g) = timer.unwrap();
            if t > end {
                break;
            }
            while next_tick.min(next_acct) <= t {
                if next_tick <= next_acct {
                    s.tick(next_tick);
                    next_tick += 10 * MS;
                } else {
                    s.acct(next_acct);
                    next_acct += 30 * MS;
                }
            }
            s.slice_timer(g, t);
            timer = s.timer_req.take().or(timer);
            if s.current() != last.1 {
                assert!(t - last.0 <= 60 * MS);
                last = (t, s.current());
            }
        }
        let total: Nanos = s.stats.run_ns.iter().sum();
        for v in 0..3 {
            let share = s.stats.run_ns[v] as f64 / total as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.05, "vcpu {v} share {share}");
        }
    }

    #[test]
    fn waking_under_vcpu_is_boosted_and_preempts_after_ratelimit() {
        let mut s = CreditSched::new(SchedParams::default(), 2);
        s.wake(0, 0);
        s.timer_req.take();
        assert_eq!(s.current(), Some(0));
        s.tick(10 * MS); // vCPU 0 loses any boost, becomes active
        s.wake(1, 10 * MS + 5 * MS);
        assert_eq!(s.pri(1), Pri::Boost);
        // 0 ran 15 ms (> ratelimit): immediate preemption.
        assert_eq!(s.current(), Some(1));
        // 0 preempted, then 1 blocks: 0 runs again.
        s.block(1, 16 * MS);
        assert_eq!(s.current(), Some(0));
        // A wake within the ratelimit window does not preempt at once.
        s.wake(1, 16 * MS + 200 * US);
        assert_eq!(s.current(), Some(0));
        let (t, g) = s.timer_req.take().unwrap();
        assert_eq!(t, 17 * MS);
        s.slice_timer(g, t);
        assert_eq!(s.current(), Some(1));
    }
}
