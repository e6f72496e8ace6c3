//! The shop's seeded data, as the load generator uses it: which users
//! exist, which products can be bought, which cards pass.
//!
//! These mirror the seeds of the user and inventory services and the
//! payment provider's test cards. The load only draws from data the mesh
//! is known to hold, so every answer other than the kind's expected status
//! is a fault (injected or real), never a load-generator mistake.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// The five active seeded customers (u-1099 is suspended: never used here,
/// its 403 is not part of the shop mix).
pub const USERS: [&str; 5] = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"];

/// In-stock products for a normal checkout, with their draw weights.
///
/// Stock is 1000 / 1000 / 5000 / 1000: weights in the same proportion make
/// every product run out at the same moment, i.e. as late as possible, so a
/// long run does not turn checkouts into 409s. Each checkout buys one unit.
pub const IN_STOCK: [(&str, u32); 4] = [
    ("KEY-001", 1),
    ("MOU-002", 1),
    ("CAB-004", 5),
    ("HDP-005", 1),
];

/// A product seeded with no stock: its checkout answers 409.
pub const OUT_OF_STOCK_SKU: &str = "CHR-007";

/// A payment card as the checkout body carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Card {
    pub number: &'static str,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: &'static str,
}

/// The provider approves it (Stripe's classic test number).
pub const GOOD_CARD: Card = Card {
    number: "4242424242424242",
    exp_month: 12,
    exp_year: 2031,
    cvc: "123",
};

/// The provider declines it: the checkout answers 402.
pub const DECLINED_CARD: Card = Card {
    number: "4000000000000002",
    ..GOOD_CARD
};

/// `POST /api/checkout`'s body: one line, quantity 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutBody {
    pub user_id: &'static str,
    pub items: [CheckoutItem; 1],
    pub card: Card,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutItem {
    pub sku: &'static str,
    pub quantity: u32,
}

impl CheckoutBody {
    pub fn new(user_id: &'static str, sku: &'static str, card: Card) -> Self {
        CheckoutBody {
            user_id,
            items: [CheckoutItem { sku, quantity: 1 }],
            card,
        }
    }
}

/// A goose user's draws of scenario data. Its own generator, apart from
/// the trace-context one, so the trace ids a seed gives do not depend on
/// which users and products happened to be drawn.
#[derive(Debug, Clone)]
pub struct ShopData {
    rng: StdRng,
}

impl ShopData {
    pub fn new(seed: u64, user_index: usize) -> Self {
        // A different stream from the trace-context generator of the same
        // user: the same seed, tagged ("SHOPDATA" in ASCII).
        const DATA_STREAM: u64 = 0x5348_4f50_4441_5441;
        let user_seed = seed.wrapping_add(user_index as u64) ^ DATA_STREAM;
        ShopData {
            rng: StdRng::seed_from_u64(user_seed),
        }
    }

    /// One of the seeded customers, uniformly.
    pub fn user(&mut self) -> &'static str {
        USERS[self.rng.random_range(0..USERS.len())]
    }

    /// An in-stock SKU, by the [`IN_STOCK`] weights.
    pub fn in_stock_sku(&mut self) -> &'static str {
        let total: u32 = IN_STOCK.iter().map(|(_, weight)| weight).sum();
        let mut draw = self.rng.random_range(0..total);
        for (sku, weight) in IN_STOCK {
            if draw < weight {
                return sku;
            }
            draw -= weight;
        }
        unreachable!("a draw below the total weight falls in some entry")
    }

    /// An index in `0..len`, uniformly (`len` > 0): which earlier order to
    /// look up.
    pub fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }
}
