SELECT * FROM '/company/windfarm/+/turbine/+/+'
