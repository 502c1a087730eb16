# Reference values for the calibrated designs of the estimation engine (the run's calibration),
# from R `survey` (Lumley): calibrate(calfun = "raking") and svyby(svymean).
#
# Fixture: tests/r/fixtures/calibration_sample.csv (the weighting fixture, 4 strata, 16 villages
# as PSUs, 9 communes, 113 respondents, y continuous with missing values, z and z2 0/1 items) and
# the margins sex x age band (weighting_pop_sex_age.csv), urban/rural
# (weighting_margin_urban_rural.csv) and commune (calibration_margin_commune.csv), all 48,441.
#
# Writes to tests/r/expected/:
#   calibration_weights.csv    the raked weights (calibrate(calfun = "raking")) and rake()'s
#   calibration_estimates.csv  estimate and SE of y (mean), z (proportion) and the composite
#                              (z + z2) / 2, whole sample, by commune and by stratum (area), on
#                              - "calibrated": the calibrate() design (R residualises the
#                                influence values on the calibration model: greg_calibration),
#                              - "rake": the rake() design (backfitting, for comparison),
#                              - "plain": the calibrated weights used as plain design weights.
# Numbers at full precision (format(x, digits = 17)).
#
# Usage (from the repository root):  Rscript tests/r/reference_calibration.R [OUTPUT_DIR]

suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/r"
trailing <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(trailing) >= 1) trailing[1] else file.path(here, "expected")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
fix <- function(name) file.path(here, "fixtures", name)

d <- read.csv(fix("calibration_sample.csv"), colClasses = c(
  respondent_id = "character", stratum = "character", psu = "character",
  commune_code = "character", weight = "numeric", sex = "integer", age_band = "character",
  urban_rural = "integer", y = "numeric", z = "integer", z2 = "integer"))
pop_sa <- read.csv(fix("weighting_pop_sex_age.csv"),
                   colClasses = c(sex = "integer", age_band = "character", total = "numeric"))
m_ur <- read.csv(fix("weighting_margin_urban_rural.csv"),
                 colClasses = c(urban_rural = "integer", total = "numeric"))
m_com <- read.csv(fix("calibration_margin_commune.csv"),
                  colClasses = c(commune_code = "character", total = "numeric"))

d$sa <- factor(paste(d$sex, d$age_band, sep = " x "))
d$ur <- factor(d$urban_rural)
d$com <- factor(d$commune_code)
pop_sa$sa <- paste(pop_sa$sex, pop_sa$age_band, sep = " x ")

des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d, nest = TRUE)

# population totals for the model matrix of ~sa + ur + com (treatment contrasts)
mm <- colnames(model.matrix(~ sa + ur + com, d))
N <- sum(m_ur$total)
pop <- sapply(mm, function(nm) {
  if (nm == "(Intercept)") return(N)
  if (startsWith(nm, "sa")) return(pop_sa$total[pop_sa$sa == substring(nm, 3)])
  if (startsWith(nm, "ur")) return(m_ur$total[m_ur$urban_rural == as.integer(substring(nm, 3))])
  if (startsWith(nm, "com")) return(m_com$total[m_com$commune_code == substring(nm, 4)])
  stop(nm)
})
cal <- calibrate(des, ~ sa + ur + com, population = pop, calfun = "raking",
                 maxit = 500, epsilon = 1e-14)
rk <- rake(des, list(~sa, ~ur, ~com),
           list(data.frame(sa = pop_sa$sa, Freq = pop_sa$total),
                data.frame(ur = factor(m_ur$urban_rural), Freq = m_ur$total),
                data.frame(com = m_com$commune_code, Freq = m_com$total)),
           control = list(maxit = 500, epsilon = 1e-13))
d$w_cal <- weights(cal)
plain <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w_cal, data = d, nest = TRUE)

f17 <- function(x) format(x, digits = 17)
write.csv(data.frame(respondent_id = d$respondent_id, weight_calibrate = f17(weights(cal)),
                     weight_rake = f17(weights(rk))),
          file.path(outdir, "calibration_weights.csv"), row.names = FALSE, quote = FALSE)

rows <- list()
add <- function(design_name, level, unit, measure, est, se) {
  rows[[length(rows) + 1]] <<- data.frame(design = design_name, level = level, unit = unit,
                                          measure = measure, estimate = f17(as.numeric(est)),
                                          se = f17(as.numeric(se)))
}
designs <- list(calibrated = cal, rake = rk, plain = plain)
for (nm in names(designs)) {
  dz <- designs[[nm]]
  for (v in c("y", "z")) {
    f <- as.formula(paste0("~", v))
    m <- svymean(f, dz, na.rm = TRUE)
    add(nm, "total", "total", v, coef(m), SE(m))
    for (lev in c("commune_code", "stratum")) {
      b <- svyby(f, as.formula(paste0("~", lev)), dz, svymean, na.rm = TRUE)
      add(nm, lev, as.character(b[[lev]]), v, coef(b), SE(b))
    }
  }
  # composite: the mean of the proportions z and z2 (no missing answers), per domain
  comp <- function(sub) {
    m <- svymean(~ z + z2, sub)
    svycontrast(m, quote((z + z2) / 2))
  }
  k <- comp(dz)
  add(nm, "total", "total", "composite", coef(k), SE(k))
  for (lev in c("commune_code", "stratum")) {
    for (u in sort(unique(d[[lev]]))) {
      k <- comp(subset(dz, d[[lev]] == u))
      add(nm, lev, u, "composite", coef(k), SE(k))
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(outdir, "calibration_estimates.csv"), row.names = FALSE, quote = FALSE)
cat("R", R.version$major, ".", R.version$minor, " survey ", as.character(packageVersion("survey")),
    ": wrote ", outdir, "\n", sep = "")
