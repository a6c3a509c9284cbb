public enum FiniteDifference {}
