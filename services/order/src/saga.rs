//! PlaceOrder as a saga: reserve the stock, charge the card, store the
//! order; if the charge fails, give the stock back (the compensation).
//!
//! ```text
//!   stored order for this key? --yes--> return it (no second reservation or charge)
//!        | no
//!   1. inventory Reserve (reservation id = idempotency key)
//!        | ok                                   \ failed -> out_of_stock, unknown_sku...
//!   2. payment charge (Idempotency-Key = idempotency key)
//!        | 201                                  \ failed -> inventory Release, then the payment error
//!   3. store order + lines in one transaction -> return it
//! ```
//!
//! Every step is keyed by the order's idempotency key, so a retried
//! PlaceOrder (after a timeout, say) cannot reserve or charge twice: each
//! service recognises the key. No span per step here: the CLIENT spans of
//! the Reserve, charge, Release and INSERT calls already show the steps.

use std::time::SystemTime;

use tracemesh_payment::api::Charge;
use tracemesh_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tracemesh_proto::inventory::v1::{LineItem, ReleaseRequest, ReserveRequest, ReserveResponse};
use tracemesh_proto::order::v1::{Order, OrderLine};
use tracemesh_runtime::grpc_client::TracedChannel;
use tracemesh_runtime::time_format::rfc3339_utc;

use crate::error::OrderError;
use crate::payment_client::PaymentClient;
use crate::request::PlaceOrder;
use crate::store::{Inserted, OrderStore};

/// The status of every stored order: an order exists only once paid.
pub const STATUS_PAID: &str = "paid";

/// The steps of PlaceOrder and the services they call.
#[derive(Debug, Clone)]
pub struct Saga {
    inventory: InventoryServiceClient<TracedChannel>,
    payment: PaymentClient,
    store: OrderStore,
}

impl Saga {
    pub fn new(
        inventory: InventoryServiceClient<TracedChannel>,
        payment: PaymentClient,
        store: OrderStore,
    ) -> Saga {
        Saga {
            inventory,
            payment,
            store,
        }
    }

    /// Places `request`'s order, or returns the order already placed with
    /// its idempotency key.
    pub async fn place_order(&self, request: PlaceOrder) -> Result<Order, OrderError> {
        if let Some(existing) = self.stored_order(&request).await? {
            return Ok(existing);
        }

        let reservation = self.reserve(&request).await?;

        let description = format!("tracemesh order for {}", request.user_id);
        let charged = self
            .payment
            .charge(
                &request.idempotency_key,
                reservation.total_cents,
                &request.card,
                description,
            )
            .await;
        let charge = match charged {
            Ok(charge) => charge,
            Err(payment_error) => {
                self.release(&reservation.reservation_id).await;
                return Err(payment_error);
            }
        };

        // If storing fails the card is charged and the stock held: neither is
        // undone, so that a retry with the same key (which payment answers
        // with the same charge) completes this very order.
        let order = paid_order(&request, &reservation, &charge);
        match self
            .store
            .insert(order.clone(), request.idempotency_key.clone())
            .await?
        {
            Inserted::Stored => {
                // Once per order: replays of its key return before this.
                tracemesh_runtime::metrics::global().order_placed();
                Ok(order)
            }
            // A concurrent retry with the same key stored its order first
            // (both reserved and charged the same key, so nothing was taken
            // twice): that order is the answer to both.
            Inserted::KeyTaken => self.stored_order(&request).await?.ok_or_else(|| {
                OrderError::Internal("the idempotency key is taken but has no order".to_owned())
            }),
        }
    }

    /// The order already placed with the request's idempotency key, if any.
    async fn stored_order(&self, request: &PlaceOrder) -> Result<Option<Order>, OrderError> {
        let Some(order) = self
            .store
            .find_by_idempotency_key(request.idempotency_key.clone())
            .await?
        else {
            return Ok(None);
        };
        // Keys are chosen by clients: never hand one user's order to another
        // user who happens to send the same key.
        if order.user_id != request.user_id {
            return Err(OrderError::IdempotencyKeyReused(
                "idempotency_key was already used by another user's order".to_owned(),
            ));
        }
        Ok(Some(order))
    }

    /// Step 1: reserve every line, or fail with inventory's reason.
    async fn reserve(&self, request: &PlaceOrder) -> Result<ReserveResponse, OrderError> {
        let reserve = ReserveRequest {
            reservation_id: request.idempotency_key.clone(),
            items: request
                .items
                .iter()
                .map(|item| LineItem {
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                })
                .collect(),
        };
        self.inventory
            .clone()
            .reserve(reserve)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| OrderError::from_reserve(&status))
    }

    /// The compensation of step 1. If it fails, the stock stays held: that
    /// is logged at error with the reservation id (the Release CLIENT span
    /// is an error span too), and the caller still gets the payment error,
    /// which is what it needs to act on.
    async fn release(&self, reservation_id: &str) {
        let release = ReleaseRequest {
            reservation_id: reservation_id.to_owned(),
        };
        if let Err(status) = self.inventory.clone().release(release).await {
            tracing::error!(
                reservation_id,
                code = ?status.code(),
                error = status.message(),
                "could not release the reservation of a failed payment: its stock stays held"
            );
        }
    }
}

/// Step 3's order: the reservation's lines and total, the charge's id.
fn paid_order(request: &PlaceOrder, reservation: &ReserveResponse, charge: &Charge) -> Order {
    Order {
        id: format!("ord_{}", uuid::Uuid::new_v4().simple()),
        user_id: request.user_id.clone(),
        lines: reservation
            .lines
            .iter()
            .map(|line| OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_cents: line.unit_price_cents,
            })
            .collect(),
        total_cents: reservation.total_cents,
        status: STATUS_PAID.to_owned(),
        payment_id: charge.id.clone(),
        card_last4: charge.card_last4.clone(),
        created_at: rfc3339_utc(SystemTime::now()),
    }
}
