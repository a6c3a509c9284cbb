extension Pipps_V1_FallbackReason {
    /// The name the .proto file gives this value (`FALLBACK_REASON_STALE_STATE`), for status maps
    /// and logs that other languages read.
    public var protoName: String {
        switch self {
        case .none: "FALLBACK_REASON_NONE"
        case .nonFiniteState: "FALLBACK_REASON_NON_FINITE_STATE"
        case .wrongDimension: "FALLBACK_REASON_WRONG_DIMENSION"
        case .staleState: "FALLBACK_REASON_STALE_STATE"
        case .outOfOrder: "FALLBACK_REASON_OUT_OF_ORDER"
        case .noPolicy: "FALLBACK_REASON_NO_POLICY"
        case .emergencyStop: "FALLBACK_REASON_EMERGENCY_STOP"
        case .notRegistered: "FALLBACK_REASON_NOT_REGISTERED"
        case .policyError: "FALLBACK_REASON_POLICY_ERROR"
        case .UNRECOGNIZED(let v): "FALLBACK_REASON_\(v)"
        }
    }
}
