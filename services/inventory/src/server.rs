//! The `InventoryService` trait implementation. Thin on purpose: parse,
//! (for Reserve) the warehouse check, the store (the catalog for
//! ListProducts), shape the answer. Spans,
//! propagation and faults are the runtime layer's job; logging an error is
//! [`crate::error`]'s.

use tonic::{Request, Response, Status};
use tracemesh_proto::inventory::v1::inventory_service_server::InventoryService;
use tracemesh_proto::inventory::v1::{
    GetStockRequest, GetStockResponse, ListProductsRequest, ListProductsResponse, ReleaseRequest,
    ReleaseResponse, ReserveRequest, ReserveResponse, StockLevel,
};

use crate::catalog::Catalog;
use crate::domain::{self, ReservationId, ReservationRequest};
use crate::error::InventoryError;
use crate::store::Store;
use crate::warehouse::Warehouse;

#[derive(Debug, Clone)]
pub struct InventoryServer {
    store: Store,
    catalog: Catalog,
    warehouse: Warehouse,
}

impl InventoryServer {
    pub fn new(store: Store, catalog: Catalog, warehouse: Warehouse) -> Self {
        InventoryServer {
            store,
            catalog,
            warehouse,
        }
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryServer {
    async fn list_products(
        &self,
        _request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        // A planted bottleneck by default: see `crate::catalog`.
        let products = self
            .catalog
            .list_products()
            .await
            .map_err(InventoryError::from)?;
        Ok(Response::new(ListProductsResponse {
            products: products.into_iter().map(Into::into).collect(),
        }))
    }

    async fn get_stock(
        &self,
        request: Request<GetStockRequest>,
    ) -> Result<Response<GetStockResponse>, Status> {
        let skus = domain::parse_skus(&request.get_ref().skus)?;
        let levels = self.store.stock_levels(skus).await?;
        Ok(Response::new(GetStockResponse {
            levels: levels
                .into_iter()
                .map(|(sku, available)| StockLevel {
                    sku: sku.as_str().to_owned(),
                    available,
                })
                .collect(),
        }))
    }

    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveResponse>, Status> {
        // Validate first: a malformed request never queues for the warehouse.
        let request = ReservationRequest::parse(request.get_ref())?;
        // The planted bottleneck: see `crate::warehouse`.
        self.warehouse.check().await;
        let reservation = self.store.reserve(request).await;
        if let Err(InventoryError::OutOfStock { .. }) = &reservation {
            tracemesh_runtime::metrics::global().stock_reservation_refused();
        }
        Ok(Response::new(reservation?.into()))
    }

    async fn release(
        &self,
        request: Request<ReleaseRequest>,
    ) -> Result<Response<ReleaseResponse>, Status> {
        let id = ReservationId::parse(&request.get_ref().reservation_id)?;
        let released = self.store.release(id).await.map_err(InventoryError::from)?;
        Ok(Response::new(ReleaseResponse { released }))
    }
}
