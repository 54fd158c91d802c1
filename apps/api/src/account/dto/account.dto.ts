import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AccountMessages } from '@app/account';
import {
  IsEntityId,
  IsLoginPassword,
  IsOptionalString,
  IsPassword,
  IsRequiredString,
  IsUsername,
  NullAsAbsent,
  RequiresOneOf,
  Trim,
} from './account-validators';

export class RegisterDto {
  @ApiProperty({
    example: 'alice',
    description:
      '1–32 letters, digits, _ . -, starting with a letter or digit (NFKC-normalised, no invisible ' +
      'characters); unique regardless of case and of look-alike characters',
  })
  @Trim()
  @IsUsername()
  username!: string;

  @ApiProperty({ example: 'secret123', description: '6–72 bytes, taken exactly as sent' })
  @IsPassword()
  password!: string;
}

export class LoginDto {
  @ApiProperty({ example: 'alice' })
  @Trim()
  @IsRequiredString(64)
  username!: string;

  @ApiProperty({ example: 'secret123', description: 'at most 72 bytes' })
  @IsLoginPassword()
  password!: string;
}

export class RefreshDto {
  @ApiProperty({ description: 'the refresh_token returned by login' })
  @Trim()
  @IsRequiredString(256)
  refresh_token!: string;
}

export class ChangePasswordDto {
  @ApiProperty({ example: 'alice' })
  @Trim()
  @IsRequiredString(64)
  username!: string;

  @ApiProperty({ example: 'secret123', description: 'at most 72 bytes' })
  @IsLoginPassword()
  old_password!: string;

  @ApiProperty({ example: 'newsecret456', description: '6–72 bytes' })
  @IsPassword()
  new_password!: string;
}

export class FindByIdDto {
  @ApiProperty({ example: 1 })
  @IsEntityId()
  id!: number;
}

export class FindByUsernameDto {
  @ApiProperty({ example: 'alice' })
  @Trim()
  @IsRequiredString(64)
  username!: string;
}

export class GetProfileDto {
  @ApiProperty({ example: 1 })
  @IsEntityId()
  account_id!: number;
}

export class RenameDto {
  @ApiProperty({ example: 'alice2', description: 'registration rules' })
  @Trim()
  @IsUsername()
  new_username!: string;
}

export class UpdateProfileDto {
  @ApiPropertyOptional({
    example: '/static/avatars/x.png',
    description: '"" clears; else one of your image uploads',
  })
  @Trim()
  @NullAsAbsent()
  @IsOptionalString(512)
  @RequiresOneOf(['avatar_url', 'bio'], AccountMessages.emptyProfileUpdate)
  avatar_url?: string;

  @ApiPropertyOptional({ example: 'hello', maxLength: 255 })
  @Trim()
  @NullAsAbsent()
  @IsOptionalString(255)
  bio?: string;
}

export class EmptyDto {}

export class AccountResponse {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ description: '"" when unset' }) avatar_url!: string;
  @ApiProperty({ description: '"" when unset' }) bio!: string;
}

export class RegisterResponse {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
}

export class LoginResponse {
  @ApiProperty() token!: string;
  @ApiProperty() refresh_token!: string;
  @ApiProperty() account_id!: number;
  @ApiProperty() username!: string;
}

export class RefreshResponse {
  @ApiProperty() token!: string;
  @ApiProperty() account_id!: number;
  @ApiProperty() username!: string;
}

export class TokenResponse {
  @ApiProperty() token!: string;
}

export class AccountMessageResponse {
  @ApiProperty() message!: string;
}

export class ProfileResponse {
  @ApiProperty({ type: AccountResponse }) account!: AccountResponse;
  @ApiProperty() video_count!: number;
  @ApiProperty() total_likes!: number;
  @ApiProperty() follower_count!: number;
  @ApiProperty() vlogger_count!: number;
}
