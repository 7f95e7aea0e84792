/**
 * The pod-request contract (docs/requests.md): parse a pod into a `PodRequest` with HAMi's semantics, Kubernetes
 * quantities, and the `Reason` records a failed request or node carries (rendered by `reasonText` at the edge).
 */
export * from './types.js';
export { BYTES_PER_MIB, parseQuantity, quantityCeil, quantityInteger, type Quantity } from './quantity.js';
export { DEFAULT_REQUEST_CONFIG, parsePodRequest, wantsGpu, type RequestConfig } from './request.js';
export { reasonText } from './reasons.js';
