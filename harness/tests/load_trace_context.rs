//! The seeded traceparent generator, on its own: repeatable per seed and
//! user, distinct across users, well-formed, and in the planned shares.
//! Also the tests' own yardsticks (the traceparent validator and the
//! binomial bound), shown to refuse what they must.

mod load_support;

use load_support::{is_valid_traceparent, within_binomial_bounds};
use tracemesh_harness::load::{TraceContextGenerator, format_traceparent};

fn draws(seed: u64, user: usize, n: usize) -> Vec<Option<String>> {
    let mut generator = TraceContextGenerator::new(seed, user, 0.3, 0.6);
    (0..n).map(|_| generator.next_traceparent()).collect()
}

#[test]
fn the_same_seed_and_user_give_the_same_sequence() {
    assert_eq!(draws(7, 3, 500), draws(7, 3, 500));
}

#[test]
fn users_of_one_run_and_runs_of_other_seeds_get_other_trace_ids() {
    let ids = |d: Vec<Option<String>>| -> Vec<String> { d.into_iter().flatten().collect() };
    let user_0 = ids(draws(7, 0, 200));
    let user_1 = ids(draws(7, 1, 200));
    let other_seed = ids(draws(8, 0, 200));
    assert!(user_0.iter().all(|t| !user_1.contains(t)));
    assert!(user_0.iter().all(|t| !other_seed.contains(t)));
}

#[test]
fn every_traceparent_is_well_formed() {
    for traceparent in draws(1, 0, 5_000).into_iter().flatten() {
        assert!(is_valid_traceparent(&traceparent), "{traceparent}");
    }
}

#[test]
fn root_and_sampled_shares_follow_the_plan() {
    let n = 20_000;
    let all = draws(99, 0, n);
    let parented: Vec<&String> = all.iter().flatten().collect();
    let roots = n - parented.len();
    assert!(
        within_binomial_bounds(roots, n, 0.3),
        "{roots} roots of {n}"
    );
    let sampled = parented.iter().filter(|t| t.ends_with("-01")).count();
    assert!(
        within_binomial_bounds(sampled, parented.len(), 0.6),
        "{sampled} sampled of {}",
        parented.len()
    );
}

#[test]
fn shares_of_zero_and_one_are_exact() {
    let mut never_root = TraceContextGenerator::new(5, 0, 0.0, 1.0);
    let mut always_root = TraceContextGenerator::new(5, 0, 1.0, 0.5);
    let mut never_sampled = TraceContextGenerator::new(5, 0, 0.0, 0.0);
    for _ in 0..1_000 {
        assert!(never_root.next_traceparent().unwrap().ends_with("-01"));
        assert_eq!(always_root.next_traceparent(), None);
        assert!(never_sampled.next_traceparent().unwrap().ends_with("-00"));
    }
}

#[test]
fn a_traceparent_is_zero_padded_lowercase_hex() {
    assert_eq!(
        format_traceparent(0xab, 0x1, true),
        "00-000000000000000000000000000000ab-0000000000000001-01"
    );
    assert_eq!(
        format_traceparent(u128::MAX, u64::MAX, false),
        "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00"
    );
}

#[test]
fn the_validator_refuses_malformed_traceparents() {
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(is_valid_traceparent(good));
    for bad in [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  // short span id
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // flags
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",    // no flags
        "",
    ] {
        assert!(!is_valid_traceparent(bad), "accepted {bad:?}");
    }
}

#[test]
fn the_binomial_bound_refuses_a_share_far_from_the_plan() {
    assert!(within_binomial_bounds(3_000, 10_000, 0.3));
    // 35% where 30% was planned: 10.9 standard deviations off.
    assert!(!within_binomial_bounds(3_500, 10_000, 0.3));
    assert!(!within_binomial_bounds(2_500, 10_000, 0.3));
    // Nothing parented when 60% should be sampled.
    assert!(!within_binomial_bounds(0, 1_000, 0.6));
}
