/// The version of Intake, reported by the admin command `status`.
public enum IntakeVersion {
    public static let current = "0.1.0-dev"
}
