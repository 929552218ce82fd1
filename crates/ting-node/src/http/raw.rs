//! `GET /v1/raw/blocks?from=H&limit=N`: durable blocks as their bytes, for
//! a witness or a mirror that re-executes them (JSON would not give back
//! the bytes the sequencer signed).
//!
//! The body is `application/octet-stream`: for each block, its length
//! (`u32` little-endian) and its encoding (docs/wire.md), heights
//! ascending from `from`, at most `limit` blocks (`BLOCK_RANGE_MAX`) and
//! about `RAW_BLOCKS_BYTES_MAX` bytes (always at least one block when one
//! is there). `x-ting-durable-height` names the durable height, so a
//! follower knows whether to ask again at once.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ting_core::limits::BLOCK_RANGE_MAX;
use ting_core::BlockHeight;

use super::error::ApiError;
use super::query::{off_worker, page_limit};
use crate::Shared;

/// A raw range stops adding blocks past this many bytes.
pub const RAW_BLOCKS_BYTES_MAX: usize = 8 << 20;
/// Blocks in a raw range when the request names no limit.
const RAW_BLOCKS_DEFAULT: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    from: u64,
    limit: Option<u64>,
}

pub async fn raw_blocks(
    State(s): State<Arc<Shared>>,
    query: Result<Query<RawRange>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if q.from == 0 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "from: blocks start at height 1",
        ));
    }
    let max = usize::try_from(BLOCK_RANGE_MAX).unwrap_or(usize::MAX);
    let limit = page_limit(q.limit, RAW_BLOCKS_DEFAULT.min(max), max)?;
    let (durable, body) = off_worker(&s, move |s| {
        let durable = s.log.height().0;
        let mut body = Vec::new();
        let mut height = q.from;
        let mut taken = 0;
        while height <= durable
            && taken < limit
            && (taken == 0 || body.len() < RAW_BLOCKS_BYTES_MAX)
        {
            let Some(block) = s
                .log
                .block(BlockHeight(height))
                .map_err(|e| ApiError::log(&e))?
            else {
                break;
            };
            let bytes = block.encode();
            let len =
                u32::try_from(bytes.len()).map_err(|e| ApiError::internal("encode a block", e))?;
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(&bytes);
            height = height.saturating_add(1);
            taken += 1;
        }
        Ok((durable, body))
    })
    .await?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert("x-ting-durable-height", HeaderValue::from(durable));
    Ok(response)
}
