//! The gRPC service `tracemesh.order.v1.OrderService`: parse the request,
//! hand it to the saga or the store, and let `From<OrderError>` pick the
//! status. Spans, propagation and faults are the server layer's business.

use tonic::{Request, Response, Status};
use tracemesh_proto::order::v1::order_service_server::OrderService;
use tracemesh_proto::order::v1::{GetOrderRequest, Order, PlaceOrderRequest};

use crate::error::OrderError;
use crate::request::PlaceOrder;
use crate::saga::Saga;
use crate::store::OrderStore;

#[derive(Debug, Clone)]
pub struct OrderServer {
    saga: Saga,
    store: OrderStore,
}

impl OrderServer {
    pub fn new(saga: Saga, store: OrderStore) -> OrderServer {
        OrderServer { saga, store }
    }
}

#[tonic::async_trait]
impl OrderService for OrderServer {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = PlaceOrder::parse(request.into_inner())?;
        let order = self.saga.place_order(request).await?;
        Ok(Response::new(order))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let id = request.into_inner().order_id;
        if id.is_empty() {
            return Err(
                OrderError::InvalidArgument("order_id must not be empty".to_owned()).into(),
            );
        }
        match self.store.get(id.clone()).await.map_err(OrderError::from)? {
            Some(order) => Ok(Response::new(order)),
            None => Err(OrderError::OrderNotFound(id).into()),
        }
    }
}
