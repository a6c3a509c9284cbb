import Foundation

/// A 3-vector for the unicycle's kinematics.
struct Vector3: Equatable {
    var x, y, z: Double
    static func + (a: Vector3, b: Vector3) -> Vector3 { Vector3(x: a.x + b.x, y: a.y + b.y, z: a.z + b.z) }
    static func - (a: Vector3, b: Vector3) -> Vector3 { Vector3(x: a.x - b.x, y: a.y - b.y, z: a.z - b.z) }
    static func * (s: Double, a: Vector3) -> Vector3 { Vector3(x: s * a.x, y: s * a.y, z: s * a.z) }
    func dot(_ b: Vector3) -> Double { x * b.x + y * b.y + z * b.z }
    func cross(_ b: Vector3) -> Vector3 {
        Vector3(x: y * b.z - z * b.y, y: z * b.x - x * b.z, z: x * b.y - y * b.x)
    }
    var squaredNorm: Double { dot(self) }
}

extension Unicycle {
    /// Total mechanical energy (J): kinetic energy of wheel, frame and turntable plus potential
    /// energy, with the contact point as the height reference.
    ///
    /// Kinematics (derived here from the model's geometry, independently of the equations of motion):
    /// - heading h = (cos φ, sin φ, 0), side s = (−sin φ, cos φ, 0), up z. The wheel plane is rolled by
    ///   θ: e1 = h, e2 = cos θ s − sin θ z (the axle), e3 = sin θ s + cos θ z (up in the wheel plane),
    ///   and turns with angular velocity Ω = φ̇ z − θ̇ e1.
    /// - The wheel spins about e2 at ψ̇w relative to the plane; the contact point moves at rw ψ̇w e1
    ///   (rolling), the wheel centre sits at rw e3 above it.
    /// - The frame is pitched by ψf about the axle: f1 = cos ψf e1 − sin ψf e3, f2 = e2,
    ///   f3 = sin ψf e1 + cos ψf e3 (its long axis), angular velocity Ω + ψ̇f e2. Its centre of mass is
    ///   at rf along f3 from the axle, the turntable at rf + rt; the turntable spins about f3 at ψ̇t.
    public func energy(_ s: [Double]) -> Double {
        let dth = s[0], dph = s[1], dpw = s[2], dpf = s[3], dpt = s[4]
        let th = s[7], ph = s[8], pf = s[10]
        let st = sin(th), ct = cos(th), sp = sin(ph), cp = cos(ph), sf = sin(pf), cf = cos(pf)
        let rw = wheelRadius, rf = axleToFrameCentre, r = axleToFrameCentre + frameCentreToTurntable

        let up = Vector3(x: 0, y: 0, z: 1)
        let heading = Vector3(x: cp, y: sp, z: 0)
        let side = Vector3(x: -sp, y: cp, z: 0)
        let e1 = heading
        let e2 = ct * side - st * up
        let e3 = st * side + ct * up
        let planeRate = dph * up - dth * e1
        let f1 = cf * e1 - sf * e3
        let f3 = sf * e1 + cf * e3
        let frameRate = planeRate + dpf * e2

        let contactVelocity = (rw * dpw) * e1
        let wheelCentreVelocity = contactVelocity + rw * planeRate.cross(e3)
        let axisRate = frameRate.cross(f3)
        let frameCentreVelocity = wheelCentreVelocity + rf * axisRate
        let turntableVelocity = wheelCentreVelocity + r * axisRate

        // Rotational parts in each body's principal axes.
        let wheelSpin = dpw + planeRate.dot(e2)
        let wheelRot = wheelAxialInertia * wheelSpin * wheelSpin
            + wheelDiametralInertia * (planeRate.dot(e1) * planeRate.dot(e1) + planeRate.dot(e3) * planeRate.dot(e3))
        let w1 = frameRate.dot(f1), w2 = frameRate.dot(e2), w3 = frameRate.dot(f3)
        // The reference model's mass matrix gives the frame's rotation about the axle the inertia Cw
        // (0.0484), not Cf (0.8292): with Cf here, energy is not conserved by the model's own equations
        // (checked numerically), with Cw it is, to 1e-9. Cf appears only in gyroscopic terms there.
        let frameRot = frameInertiaB * w1 * w1 + wheelAxialInertia * w2 * w2 + frameInertiaA * w3 * w3
        let turntableSpin = w3 + dpt
        let turntableRot = turntableDiametralInertia * (w1 * w1 + w2 * w2) + turntableAxialInertia * turntableSpin * turntableSpin

        let kinetic = 0.5 * (wheelMass * wheelCentreVelocity.squaredNorm + wheelRot
            + frameMass * frameCentreVelocity.squaredNorm + frameRot
            + turntableMass * turntableVelocity.squaredNorm + turntableRot)
        let potential = gravity * ct * (wheelMass * rw + frameMass * (rw + rf * cf) + turntableMass * (rw + r * cf))
        return kinetic + potential
    }
}
