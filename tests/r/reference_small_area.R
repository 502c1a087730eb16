# Reference values for sipas_analysis.small_area (Fay-Herriot model), in base R only.
#
# Usage:  Rscript tests/r/reference_small_area.R [OUT_DIR]      (default tests/r/expected)
#
# CRAN packages `sae` / `emdi` are not used: the estimators are written from the published
# formulas (Fay and Herriot 1979; Prasad and Rao 1990; Datta and Lahiri 2000; Datta, Rao and
# Smith 2005; Rao and Molina 2015, ch. 6) and REML is found by stats::optimize on the restricted
# log-likelihood (no Fisher scoring, unlike the Python module). Writes small_area_fh.csv with the
# input data (case, area, y, D, x) and, per method, sigma2_v, eblup, g1, g2, g3 and mse, with 17
# significant digits.

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else "tests/r/expected"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

cases <- list(
  intercept = data.frame(
    y = c(1.12, 0.98, 1.05, 1.31, 0.77, 1.20, 0.95, 1.02, 1.18, 0.88),
    D = c(0.010, 0.025, 0.015, 0.030, 0.020, 0.012, 0.040, 0.018, 0.022, 0.035),
    x = c(0.2, 0.5, 0.1, 0.9, 0.3, 0.7, 0.4, 0.6, 0.8, 0.0)
  ),
  covariate = data.frame(
    y = c(0.75, 1.22, 0.70, 1.60, 1.15, 1.05, 1.40, 0.80, 1.30, 0.55, 1.35, 0.60),
    D = c(0.020, 0.015, 0.030, 0.010, 0.025, 0.020, 0.040, 0.012, 0.018, 0.030, 0.022, 0.016),
    x = c(0.1, 0.3, 0.2, 0.9, 0.4, 0.8, 0.5, 0.6, 1.0, 0.0, 0.7, 0.2)
  ),
  zero = data.frame(
    y = c(1.00, 1.02, 0.99, 1.01, 0.98, 1.03),
    D = c(0.050, 0.040, 0.060, 0.050, 0.045, 0.055),
    x = c(0, 1, 2, 3, 4, 5)
  )
)
design <- list(intercept = FALSE, covariate = TRUE, zero = FALSE)

fit_fh <- function(y, D, X, method) {
  m <- length(y); p <- ncol(X)
  gls <- function(A) {
    w <- 1 / (A + D)
    XtWX <- crossprod(X, X * w)
    beta <- solve(XtWX, crossprod(X, w * y))
    list(beta = beta, XtWX = XtWX, r = as.vector(y - X %*% beta))
  }
  reml <- function(A) {  # restricted log-likelihood, no constant
    g <- gls(A)
    -0.5 * (sum(log(A + D)) + as.numeric(determinant(g$XtWX)$modulus) + sum(g$r^2 / (A + D)))
  }
  upper <- 10 * (var(y) + max(D))
  if (method == "REML") {
    A <- optimize(reml, c(0, upper), maximum = TRUE, tol = 1e-14)$maximum
    if (reml(0) >= reml(A)) A <- 0
  } else if (method == "PR") {
    H <- X %*% solve(crossprod(X), t(X))
    r <- as.vector(y - H %*% y)
    A <- max(0, (sum(r^2) - sum(D * (1 - diag(H)))) / (m - p))
  } else if (method == "FH") {
    f <- function(A) sum(gls(A)$r^2 / (A + D)) - (m - p)
    A <- if (f(0) <= 0) 0 else uniroot(f, c(0, upper), tol = 1e-15)$root
  }
  g <- gls(A)
  V <- A + D; B <- D / V
  synth <- as.vector(X %*% g$beta)
  eblup <- (1 - B) * y + B * synth
  g1 <- A * D / V
  g2 <- B^2 * rowSums((X %*% solve(g$XtWX)) * X)
  vbar <- switch(method, REML = 2 / sum(V^-2), PR = 2 * sum(V^2) / m^2, FH = 2 * m / sum(1 / V)^2)
  g3 <- B^2 * vbar / V
  mse <- g1 + g2 + 2 * g3
  if (method == "FH") mse <- mse - B^2 * 2 * (m * sum(V^-2) - sum(1 / V)^2) / sum(1 / V)^3
  data.frame(method = method, sigma2_v = A, eblup = eblup, g1 = g1, g2 = g2, g3 = g3, mse = mse)
}

rows <- list()
for (case in names(cases)) {
  d <- cases[[case]]
  X <- if (design[[case]]) cbind(1, d$x) else matrix(1, nrow(d), 1)
  for (method in c("REML", "PR", "FH")) {
    res <- fit_fh(d$y, d$D, X, method)
    rows[[length(rows) + 1]] <- data.frame(
      case = case, covariate = design[[case]], area = seq_len(nrow(d)), y = d$y, D = d$D,
      x = d$x, res
    )
  }
}
out <- do.call(rbind, rows)
out[] <- lapply(out, function(v) if (is.double(v)) sprintf("%.17g", v) else v)
write.csv(out, file.path(out_dir, "small_area_fh.csv"), row.names = FALSE,
          quote = FALSE)
