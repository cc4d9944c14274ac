-- SSO links' email sealed (issue 19, step 2): the address the provider vouched for is kept
-- under the linked person's key (`email_sealed`, an envelope whose place is the link:
-- table `sso_links`, column `email`, row a UUID named by provider and subject), so erasing
-- them erases it. `email` stays only on links written before, until they sign in again.
alter table sso_links add column email_sealed bytea;
